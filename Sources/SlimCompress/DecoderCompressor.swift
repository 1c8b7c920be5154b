import Foundation
import SlimCore
import SlimModel

/// Compresses a Llama decoder (a GGUF file or a Hugging Face folder) into a
/// Hugging Face Llama folder Slim loads with its packed weights: linear
/// layers quantized by round-to-nearest, GPTQ or AWQ (GGUF blocks dequantized
/// first, and query/key rows put back into Hugging Face's order), the
/// token table kept as Q8_0, `tokenizer.json` written from the source's
/// tokenizer, and a model card.
public struct DecoderCompressor {
    public let format: QuantFormat
    public let method: ModelCompressor.Method
    /// GPTQ and AWQ: calibration texts, the backend that runs the source over them, and where they came from.
    public var calibration: (texts: [String], backend: any Backend, source: String)?
    /// The largest weights file written (transformers' `max_shard_size`): more weights go to several shards and an index.
    public var maxShardBytes = CheckpointWriter.defaultMaxShardBytes
    /// Tokens per calibration sequence.
    public var calibrationContext = 256
    /// Calibration sequences at most: the texts are joined and cut into this many.
    public var calibrationSequences = 128

    /// Per-layer exceptions, by the output's (Hugging Face) weight name: another format, or nil for fp32.
    public var layerFormats: [String: QuantFormat?] = [:]

    public init(format: QuantFormat, method: ModelCompressor.Method = .rtn) {
        self.format = format
        self.method = method
    }

    /// The fortunes file decoders calibrate on by default: not the one the
    /// perplexity reference measures (`wisdom`), so evaluation stays held out.
    public static var defaultCalibrationFile: URL { URL(fileURLWithPath: "/usr/share/games/fortunes/literature") }

    public func compress(_ source: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                         progress: ((Int, Int, String) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        let claim = try CompressedFolder.claim(output, source: source, calibration: calibration?.source, overwrite: overwrite)
        defer { claim.release() }
        let model = try DecoderSource(source)
        let c = model.config
        let (hessians, calibrationUsed) = method != .rtn ? try calibrate(model) : ([:], (sequences: 0, tokens: 0))

        var entries: [SafeTensorsWriter.Entry] = []
        var layers: [CompressionReport.Layer] = []
        var packed: [String: String] = [:]
        func float(_ name: String, as target: String) throws {
            let v = try model.store.floats(name)
            entries.append(.init(name: target, kind: .f32, shape: try model.store.shape(of: name), data: v.withUnsafeBytes { Data($0) }))
        }
        func pack(_ target: String, _ format: QuantFormat, _ encoded: QuantCodec.Encoded, rows: Int, error: Double) {
            packed[target] = format.description
            layers.append(.init(name: target, format: format.description, relativeError: error))
            entries += PackedEntries.make(target, encoded, rows: rows)
        }
        let hf = LlamaTensorNames.huggingFace
        // The token table: GGUF Q8_0 blocks are kept as they are (no second rounding); float tables become Q8_0.
        let table = model.names.tokenEmbedding + ".weight"
        if let p = try model.store.packed(table), p.format == .q8_0 {
            pack(hf.tokenEmbedding + ".weight", .q8_0, p.encoded, rows: p.rows, error: 0)
        } else {
            let w = try model.store.floats(table)
            let encoded = try QuantCodec.encode(w, rows: c.vocabSize, columns: c.hiddenSize, format: .q8_0, name: table)
            pack(hf.tokenEmbedding + ".weight", .q8_0, encoded, rows: c.vocabSize,
                 error: relativeError(w, try QuantCodec.decode(encoded, rows: c.vocabSize, columns: c.hiddenSize, format: .q8_0)))
        }
        let tied = !model.store.contains(model.names.output + ".weight")
        if !tied { try float(model.names.output + ".weight", as: hf.output + ".weight") }
        try float(model.names.outputNorm + ".weight", as: hf.outputNorm + ".weight")

        let parts: [LlamaTensorNames.Part] = [.query, .key, .value, .attentionOutput, .gate, .up, .down]
        let overrides = try LayerFormats.resolve(layerFormats, among: Set((0..<c.layers).flatMap { hf.linears($0) }))
        var factors: [String: GPTQ.Factor] = [:]
        for i in 0..<c.layers {
            progress?(i, c.layers, "block \(i)")
            var w: [LlamaTensorNames.Part: [Float]] = [:], shapes: [LlamaTensorNames.Part: [Int]] = [:]
            for part in parts {
                let name = model.names.block(i, part) + ".weight"
                let shape = try model.store.shape(of: name)
                shapes[part] = shape
                w[part] = try model.store.floats(name)
                if model.names == .gguf, part == .query || part == .key {
                    w[part] = LlamaTensorNames.unpermuteRows(w[part]!, rows: shape[0], columns: shape[1], heads: part == .query ? c.heads : c.kvHeads)
                }
            }
            var attentionNorm = try model.store.floats(model.names.block(i, .attentionNorm) + ".weight")
            var ffnNorm = try model.store.floats(model.names.block(i, .ffnNorm) + ".weight")
            var inputScales: [LlamaTensorNames.Part: [Float]] = [:]
            if method == .awq {
                // Pre-norm blocks let AWQ's scales fold away: Q, K, V into the attention norm, gate and up
                // into the MLP norm, down into up's rows (silu(gate)·up is linear in up). The output
                // projection keeps a run-time scale: with grouped-query heads one V row feeds several heads.
                func search(_ group: [LlamaTensorNames.Part]) throws -> [Float]? {
                    guard let h = hessians[model.sharedInput(i, group[0])] else { return nil }
                    let columns = shapes[group[0]]![1], rows = group.reduce(0) { $0 + shapes[$1]![0] }
                    let target = try layerFormat(format, rows: rows, columns: columns, name: model.names.block(i, group[0]))
                    let inverse = try AWQ(format: target).quantize(group.flatMap { w[$0]! }, rows: rows, columns: columns, hessian: h,
                                                                   name: group.map { model.names.block(i, $0) + ".weight" }.joined(separator: " + ")).inputScale
                    for part in group { w[part] = w[part]!.indices.map { w[part]![$0] / inverse[$0 % columns] } }
                    return inverse
                }
                if let inverse = try search([.query, .key, .value]) { attentionNorm = zip(attentionNorm, inverse).map { $0 * $1 } }
                if let inverse = try search([.gate, .up]) { ffnNorm = zip(ffnNorm, inverse).map { $0 * $1 } }
                if let inverse = try search([.down]) {
                    let columns = shapes[.up]![1]
                    w[.up] = w[.up]!.indices.map { w[.up]![$0] * inverse[$0 / columns] }
                }
                inputScales[.attentionOutput] = try search([.attentionOutput])
            }
            for (part, values) in [(LlamaTensorNames.Part.attentionNorm, attentionNorm), (.ffnNorm, ffnNorm)] {
                entries.append(.init(name: hf.block(i, part) + ".weight", kind: .f32, shape: [values.count], data: values.withUnsafeBytes { Data($0) }))
            }
            for part in parts {
                let (rows, columns) = (shapes[part]![0], shapes[part]![1])
                let weight = w[part]!, name = model.names.block(i, part) + ".weight", outName = hf.block(i, part) + ".weight"
                if let override = overrides[outName], override == nil {
                    entries.append(.init(name: outName, kind: .f32, shape: [rows, columns], data: weight.withUnsafeBytes { Data($0) }))
                    continue
                }
                let target = try layerFormat(overrides[outName].flatMap { $0 } ?? format, rows: rows, columns: columns, name: name)
                let encoded: QuantCodec.Encoded
                let shared = model.sharedInput(i, part)
                if method == .gptq, let h = hessians[shared] {
                    // One factorisation of H⁻¹ serves every layer reading the same input.
                    let factor = try factors[shared] ?? GPTQ(format: target).factor(hessian: h, columns: columns, name: name)
                    factors = [shared: factor]
                    encoded = try GPTQ(format: target).quantize(weight, rows: rows, columns: columns, factor: factor, name: name)
                } else {
                    encoded = try QuantCodec.encode(weight, rows: rows, columns: columns, format: target, name: name)
                }
                let restored = try QuantCodec.decode(encoded, rows: rows, columns: columns, format: target)
                pack(outName, target, encoded, rows: rows, error: relativeError(weight, restored))
                if let scale = inputScales[part] {
                    entries.append(.init(name: PackedNames.inputScale(outName), kind: .f32, shape: [columns], data: scale.withUnsafeBytes { Data($0) }))
                }
            }
        }
        progress?(c.layers, c.layers, "writing")

        var config = c.huggingFace
        config["tie_word_embeddings"] = tied
        config["bos_token_id"] = model.tokenizer.bosID.map(Int.init) ?? NSNull()
        config["eos_token_id"] = model.tokenizer.eosID.map(Int.init) ?? NSNull()
        config["quantization_config"] = ["quant_method": "slim", "method": method.rawValue, "format": format.description, "layers": packed]
        return try CompressedFolder.write(to: output, entries: entries, config: config,
                                          earlierCard: model.folder?.appendingPathComponent("model_card.json"), maxShardBytes: maxShardBytes,
                                          files: { try model.tokenizer.writeHuggingFace(to: $0, maxLength: c.contextLength) }) { bytesAfter in
            CompressionReport(
                source: source.path, sourceSHA256: hashSource ? model.file.contentSHA256() : "not computed",
                method: method.rawValue, format: format.description, layers: layers, bytesBefore: model.file.fileBytes,
                bytesAfter: bytesAfter, seconds: Date().timeIntervalSince(start),
                calibration: method == .rtn ? "none (round-to-nearest needs no data)"
                    : "\(calibrationUsed.sequences) sequences (\(calibrationUsed.tokens) tokens) from \(calibration?.source ?? "?"), on \(calibration?.backend.id.description ?? "?")")
        }
    }

    /// The requested format, or where its groups do not tile the layer's K
    /// (SmolLM2's 576 columns and groups of 128) the largest int4 group that
    /// does, else int8 per channel; each layer's format is recorded.
    private func layerFormat(_ format: QuantFormat, rows: Int, columns: Int, name: String) throws -> QuantFormat {
        let fit = format.fitting(columns: columns)
        do { try fit.validate(rows: rows, columns: columns, name: name) } catch {
            throw SlimError.invalidArgument("\(name) [\(rows), \(columns)] cannot be stored as \(format): \(error)")
        }
        return fit
    }

    /// H = 2·XᵀX of every linear layer's inputs, from the source run over the
    /// calibration text cut into sequences of `calibrationContext` tokens.
    private func calibrate(_ model: DecoderSource) throws -> ([String: [Double]], (sequences: Int, tokens: Int)) {
        guard let calibration else { throw SlimError.invalidArgument("\(method.rawValue) needs calibration texts") }
        let backend = calibration.backend
        let llama = try model.load(on: backend)
        let tokens = calibration.texts.flatMap { model.tokenizer.encode($0 + "\n", parseSpecial: false) }
        guard !tokens.isEmpty else { throw SlimError.invalidArgument("the calibration text tokenizes to nothing") }
        let count = max(1, min(calibrationSequences, tokens.count / calibrationContext))
        var sums: [String: Tensor] = [:]
        for s in 0..<count {
            let ids = Array(tokens[s * calibrationContext..<min(tokens.count, (s + 1) * calibrationContext)])
            _ = try llama.hiddenStates(ids) { name, x in
                guard let key = model.sharedInputs[name] else { return }
                guard key == name else { return }  // K, V and up reuse Q's and gate's inputs
                let k = x.shape.innermost
                let h = try sums[key] ?? backend.tensor([Float](repeating: 0, count: k * k), shape: [k, k], name: "H " + key)
                sums[key] = h
                try backend.gemm(x, x, into: h, options: GemmOptions(transposeA: true, alpha: 2, beta: 1))
            }
        }
        var result: [String: [Double]] = [:]
        for (key, h) in sums { result[key] = try backend.floats(h).map(Double.init) }
        return (result, (count, min(tokens.count, count * calibrationContext)))
    }
}

/// The decoder a compression step reads: its configuration, weights and tokenizer.
struct DecoderSource {
    let config: LlamaConfig
    let store: any WeightStore
    let file: any TensorFile
    let names: LlamaTensorNames
    let tokenizer: BPETokenizer
    /// The source folder (nil for a GGUF file), whose model card a chained step keeps.
    let folder: URL?
    /// Each linear weight's name → the weight whose input it shares (Q for K and V, gate for up).
    let sharedInputs: [String: String]

    init(_ url: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw SlimError.io(path: url.path, detail: "no such file or folder")
        }
        if isFolder.boolValue {
            let configURL = url.appendingPathComponent("config.json")
            if (try FileReading.jsonObject(at: configURL))["quantization_config"] != nil {
                throw SlimError.invalidArgument("\(url.path) is already quantized; compress the original model")
            }
            config = try LlamaConfig(huggingFace: configURL)
            let f = try HuggingFaceCheckpoint.open(folder: url)
            (file, store, names, folder) = (f, try PackedWeightStore(file: f, config: configURL), .huggingFace, url)
            tokenizer = try BPETokenizer(huggingFaceFolder: url)
        } else {
            let gguf = try GGUFFile(contentsOf: url)
            config = try LlamaConfig(gguf: gguf)
            (file, store, names, folder) = (gguf, TensorFileWeightStore(file: gguf), .gguf, nil)
            tokenizer = try BPETokenizer(gguf: gguf)
        }
        try config.checkCounts(against: store, file: file, names: names)
        var shared: [String: String] = [:]
        for i in 0..<config.layers {
            let q = names.block(i, .query) + ".weight", gate = names.block(i, .gate) + ".weight"
            for part in [LlamaTensorNames.Part.query, .key, .value] { shared[names.block(i, part) + ".weight"] = q }
            for part in [LlamaTensorNames.Part.gate, .up] { shared[names.block(i, part) + ".weight"] = gate }
            for part in [LlamaTensorNames.Part.attentionOutput, .down] { shared[names.block(i, part) + ".weight"] = names.block(i, part) + ".weight" }
        }
        sharedInputs = shared
    }

    func sharedInput(_ i: Int, _ part: LlamaTensorNames.Part) -> String { sharedInputs[names.block(i, part) + ".weight"]! }

    /// The source as a model (fp32 activations: calibration sees the layers' real inputs).
    func load(on backend: any Backend) throws -> LlamaModel {
        if let folder { return try LlamaModel(folder: folder, backend: backend) }
        return try LlamaModel(gguf: file as! GGUFFile, backend: backend)
    }
}
