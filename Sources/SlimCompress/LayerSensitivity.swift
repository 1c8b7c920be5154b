import Foundation
import SlimCore
import SlimModel

/// Measures, for every weight the auto search chooses a storage for, what
/// each candidate costs the whole model when that weight alone is stored so:
/// the sentence embeddings of the calibration texts are compared with the
/// original's (error = 1 − mean cosine), and the bytes are those the folder
/// would store.
///
/// Linear weights are swapped in place on the loaded original (written to
/// its device tensor, run, restored), so each candidate costs one forward
/// pass; the stored values are what ModelCompressor writes (GPTQ with the
/// same Hessians), and a packed layer runs with fp32 activations as the
/// folder's does, so the measured model is the one that will be loaded.
struct LayerSensitivity {
    let model: BertSource
    let original: SentenceEmbedder
    let texts: [String]
    let hessians: [String: [Double]]

    /// Every linear weight, then the word and position tables, then the pooler.
    func measure(progress: ((Int, Int, String) -> Void)? = nil) throws -> [LayerCosts] {
        let reference = try original.embed(texts).map(\.vector)
        func error(_ embedder: SentenceEmbedder) throws -> Double {
            let v = try embedder.embed(texts).map(\.vector)
            // Rounding can put a mean cosine a hair above 1; an error below 0 would look better than fp32.
            return max(0, 1 - zip(reference, v).map { Evaluation.cosine($0, $1) }.reduce(0, +) / Double(max(v.count, 1)))
        }
        let linears = original.encoder.linearLayers, tables = model.tables.sorted()
        let total = linears.count + tables.count + 1
        var costs: [LayerCosts] = []
        for (index, layer) in linears.enumerated() {
            progress?(index, total, layer.name)
            guard case let .dense(tensor) = layer.weights else {
                throw SlimError.invalidArgument("--method auto needs an fp32 (or pruned) model: \(layer.name) is stored \(layer.weights)")
            }
            let t = try model.file.tensor(named: layer.name)
            let w = try model.file.floats(t)
            var options = [MeasuredChoice(choice: .fp32, error: 0, bytes: t.byteRange.count)]
            for (choice, stored, bytes) in try candidates(layer.name, w, rows: layer.outFeatures, columns: layer.inFeatures) {
                try original.encoder.backend.write(stored, to: tensor)
                defer { _ = try? original.encoder.backend.write(w, to: tensor) }
                options.append(MeasuredChoice(choice: choice, error: try error(original), bytes: bytes))
            }
            costs.append(LayerCosts(name: layer.name, options: options))
        }
        let store = try PackedWeightStore(file: model.file, config: model.folder.appendingPathComponent("config.json"))
        for (index, name) in tables.enumerated() {
            progress?(linears.count + index, total, name)
            let t = try model.file.tensor(named: name)
            let w = try model.file.floats(t)
            var options = [MeasuredChoice(choice: .fp32, error: 0, bytes: t.byteRange.count)]
            for format in AutoCandidates.formats where (try? format.validate(rows: t.shape[0], columns: t.shape[1])) != nil {
                let e = try QuantCodec.encode(w, rows: t.shape[0], columns: t.shape[1], format: format, name: t.name)
                // Tables are looked up, not multiplied: the encoder is rebuilt around the decoded table.
                let replaced = ReplacedWeightStore(base: store, name: name,
                                                   values: try QuantCodec.decode(e, rows: t.shape[0], columns: t.shape[1], format: format))
                let embedder = SentenceEmbedder(encoder: try BertEncoder(config: model.config, weights: replaced, backend: original.encoder.backend),
                                                tokenizer: original.tokenizer, pooling: original.pooling, normalize: original.normalize)
                options.append(MeasuredChoice(choice: .quantized(format), error: try error(embedder), bytes: AutoCandidates.packedBytes(e)))
            }
            costs.append(LayerCosts(name: name, options: options))
        }
        progress?(total - 1, total, model.pooler)
        if let t = model.file.tensors.first(where: { $0.name == model.pooler }), t.shape.count == 2 {
            // Sentence embeddings pool the last hidden states and never run the
            // pooler: any storage costs them nothing, so only its bytes count.
            var options = [MeasuredChoice(choice: .fp32, error: 0, bytes: t.byteRange.count)]
            let w = try model.file.floats(t)
            for format in AutoCandidates.formats where (try? format.validate(rows: t.shape[0], columns: t.shape[1])) != nil {
                let e = try QuantCodec.encode(w, rows: t.shape[0], columns: t.shape[1], format: format, name: t.name)
                options.append(MeasuredChoice(choice: .quantized(format), error: 0, bytes: AutoCandidates.packedBytes(e)))
            }
            costs.append(LayerCosts(name: t.name, options: options))
        }
        progress?(total, total, "measured")
        return costs
    }

    /// The candidates that apply to a linear weight: the values the model runs and the bytes stored.
    func candidates(_ name: String, _ w: [Float], rows n: Int, columns k: Int) throws -> [(LayerChoice, [Float], Int)] {
        let h = try ModelPruner.hessian(hessians, Calibration.sharedInput(name), width: k)
        try FiniteCheck.requireQuantizable(w, tensor: name, format: .int8PerChannel)
        let factor = try GPTQ(format: .int8PerChannel).factor(hessian: h, columns: k, name: name)
        var out: [(LayerChoice, [Float], Int)] = []
        for format in AutoCandidates.formats where (try? format.validate(rows: n, columns: k)) != nil {
            let e = try GPTQ(format: format).quantize(w, rows: n, columns: k, factor: factor, name: name)
            out.append((.quantized(format), try QuantCodec.decode(e, rows: n, columns: k, format: format), AutoCandidates.packedBytes(e)))
        }
        if k % 4 == 0 {
            var pruned = w
            // Wanda's input norms from the same Hessian: H = 2XᵀX, so ‖X_j‖ = √(H_jj / 2).
            let norms = (0..<k).map { (max(h[$0 * k + $0], 0) / 2).squareRoot() }
            try Pruner(pattern: .nOfM(n: 2, m: 4), method: .wanda).prune(&pruned, rows: n, columns: k, inputNorms: norms)
            out.append((.sparse24, pruned, 4 * n * k))
        }
        let rank = LowRankFactors.rank(keeping: AutoCandidates.lowRankKeep, rows: n, columns: k)
        let f = try LowRankFactors(w, rows: n, columns: k, rank: rank)
        out.append((.lowRank(rank: f.rank), f.product, 4 * f.rank * (n + k)))
        return out
    }
}

/// A model's weights with one tensor's values replaced (a table being measured).
private struct ReplacedWeightStore: WeightStore {
    let base: PackedWeightStore
    let name: String
    let values: [Float]

    var origin: String { base.origin }
    func contains(_ n: String) -> Bool { base.contains(n) }
    func shape(of n: String) throws -> [Int] { try base.shape(of: n) }
    func floats(_ n: String) throws -> [Float] { n == name ? values : try base.floats(n) }
    func packed(_ n: String) throws -> PackedWeight? { try base.packed(n) }
    func factors(_ n: String) throws -> (a: [Float], b: [Float], rank: Int)? { try base.factors(n) }
    func inputScale(_ n: String) throws -> [Float]? { try base.inputScale(n) }
    func packedFactors(_ n: String) throws -> (a: PackedWeight, b: PackedWeight)? { try base.packedFactors(n) }
}
