import Foundation
import SlimCore
import SlimModel

/// Measures, for each group of a decoder's linears that read one input (per
/// block: Q/K/V, O, gate/up, down), what each candidate format costs the whole
/// model when that group alone is stored so: the mean KL divergence of the
/// next-token distribution from the source's, over every position of a few
/// calibration sequences.
///
/// Groups rather than single layers: a group's layers share one Hessian (one
/// GPTQ factorisation) and K, so the same candidates; Phi-3 stores Q/K/V and
/// gate/up fused in one tensor, which takes one format; and 4 groups a block
/// instead of 7 linears cut the forward passes by 3/7.
///
/// A candidate's values are what the layer-wise pipeline writes given the same
/// Hessians (GPTQ treats rows independently, so the source's row order gives the
/// same rows), and the changed block runs them packed, as the written folder
/// does. The blocks before the changed one run once per sequence, not once per
/// candidate (``DecoderModel/blockInputs(_:)``).
struct DecoderSensitivity {
    typealias Part = DecoderTensorNames.Part
    static let groups: [[Part]] = [[.query, .key, .value], [.attentionOutput], [.gate, .up], [.down]]

    let source: DecoderSource
    /// The source, loaded whole on the backend the sequences run on.
    let model: DecoderModel
    /// H = 2·XᵀX of each group's input, by the source's name of the group's first weight.
    let hessians: [String: [Double]]
    /// Damping and act-order; the format is each candidate's.
    let gptq: GPTQ
    let sequences: [[Int32]]

    /// A group of block `block`: its weights' names in the source and in the output (Hugging Face).
    struct Group {
        let block: Int
        let parts: [Part]
        let sourceNames: [String]
        let outputNames: [String]
        let shapes: [(rows: Int, columns: Int)]
        let candidates: [QuantFormat]

        var name: String { outputNames.joined(separator: " + ") }
    }

    /// Every group of every block with the candidates that apply to it: int8 per
    /// channel, int4 in groups of 128 (or the largest group that tiles K) and of 32.
    func layout() throws -> [Group] {
        try (0..<source.config.layers).flatMap { i in
            try Self.groups.map { parts in
                let sourceNames = parts.map { source.names.block(i, $0) + ".weight" }
                let shapes = try sourceNames.map { name -> (rows: Int, columns: Int) in
                    let shape = try source.store.shape(of: name)
                    guard shape.count == 2 else { throw SlimError.malformedFile(path: source.store.origin, detail: "tensor '\(name)' is \(shape), not a matrix") }
                    return (shape[0], shape[1])
                }
                var candidates: [QuantFormat] = []
                for format in AutoCandidates.formats.map({ $0.fitting(columns: shapes[0].columns) }) where !candidates.contains(format)
                    && shapes.allSatisfy({ (try? format.validate(rows: $0.rows, columns: $0.columns)) != nil }) {
                    candidates.append(format)
                }
                return Group(block: i, parts: parts, sourceNames: sourceNames,
                             outputNames: parts.map { DecoderCompressor.hf.block(i, $0) + ".weight" }, shapes: shapes, candidates: candidates)
            }
        }
    }

    /// Each group's options (kept float, then every candidate), in block order. `progress` gets (done, total).
    func measure(progress: ((Int, Int) -> Void)? = nil) throws -> [LayerCosts] {
        let groups = try layout()
        let total = groups.reduce(0) { $0 + $1.candidates.count }
        var done = 0
        progress?(0, total)
        // Every block's input and the source's log-probabilities, per sequence.
        var inputs: [[Tensor]] = [], reference: [[LogSoftmax]] = []
        for ids in sequences {
            let blockInputs = try model.blockInputs(ids)
            inputs.append(blockInputs)
            reference.append(try rows(try model.logits(fromBlock: 0, input: blockInputs[0])))
        }
        var costs: [LayerCosts] = []
        for group in groups {
            let kind = source.storedKind(group.sourceNames[0])
            // The pipeline writes a float layer in its source's type: f32, f16 or bf16 (f32 for GGUF blocks).
            let floatBytes = group.shapes.reduce(0) { $0 + $1.rows * $1.columns } * (kind.elementBytes ?? 4)
            var options = [MeasuredChoice(choice: .float(kind), error: 0, bytes: floatBytes)]
            let weights = try group.sourceNames.map { try source.store.floats($0) }
            guard let h = hessians[group.sourceNames[0]] else {
                throw SlimError.invalidArgument("no calibration statistics reached \(group.sourceNames[0]): the calibration text ran no tokens through it")
            }
            let factor = try gptq.factor(hessian: h, columns: group.shapes[0].columns, name: group.sourceNames[0])
            for format in group.candidates {
                var store = PackedOverlayStore(base: source.store)
                var bytes = 0
                for (j, name) in group.sourceNames.enumerated() {
                    let (n, k) = group.shapes[j]
                    var q = gptq
                    q.format = format
                    let encoded = try q.quantize(weights[j], rows: n, columns: k, factor: factor, name: name)
                    store.replaced[name] = PackedWeight(format: format, rows: n, columns: k, encoded: encoded)
                    bytes += AutoCandidates.packedBytes(encoded)
                }
                let block = try DecoderBlock(index: group.block, config: source.config, store: store, names: source.names, on: model.backend)
                var sum = 0.0, count = 0
                for (s, blockInputs) in inputs.enumerated() {
                    let changed = try rows(try model.logits(fromBlock: group.block, input: blockInputs[group.block], replacement: block))
                    for (a, b) in zip(reference[s], changed) { sum += a.divergence(to: b) }
                    count += changed.count
                }
                options.append(MeasuredChoice(choice: .quantized(format), error: sum / Double(max(count, 1)), bytes: bytes))
                done += 1
                progress?(done, total)
            }
            costs.append(LayerCosts(name: group.name, options: options))
        }
        return costs
    }

    /// The log-probabilities of each row of a `[tokens, vocab]` logits tensor.
    private func rows(_ logits: Tensor) throws -> [LogSoftmax] {
        let values = try model.backend.floats(logits), vocab = logits.shape[1]
        return (0..<logits.shape[0]).map { LogSoftmax(values[$0 * vocab..<($0 + 1) * vocab]) }
    }
}

/// The source's weights with some linears replaced by packed candidates (the group being measured).
private struct PackedOverlayStore: WeightStore {
    let base: any WeightStore
    var replaced: [String: PackedWeight] = [:]

    var origin: String { base.origin }
    func contains(_ n: String) -> Bool { replaced[n] != nil || base.contains(n) }
    func shape(of n: String) throws -> [Int] { try replaced[n].map { [$0.rows, $0.columns] } ?? base.shape(of: n) }
    func floats(_ n: String) throws -> [Float] {
        try replaced[n].map { try QuantCodec.decode($0.encoded, rows: $0.rows, columns: $0.columns, format: $0.format) } ?? base.floats(n)
    }
    func packed(_ n: String) throws -> PackedWeight? { try replaced[n] ?? base.packed(n) }
    func factors(_ n: String) throws -> (a: [Float], b: [Float], rank: Int)? { replaced[n] != nil ? nil : try base.factors(n) }
    func inputScale(_ n: String) throws -> [Float]? { replaced[n] != nil ? nil : try base.inputScale(n) }
    func packedFactors(_ n: String) throws -> (a: PackedWeight, b: PackedWeight)? { replaced[n] != nil ? nil : try base.packedFactors(n) }
}
