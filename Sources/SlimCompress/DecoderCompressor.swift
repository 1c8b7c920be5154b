import Foundation
import SlimCore
import SlimModel
import SlimParallel

/// Compresses a decoder of any family (a GGUF file or a Hugging Face folder,
/// one file or shards) into a Hugging Face folder Slim loads with its packed
/// weights, one block at a time:
///
/// calibration sequences pass through block i with its source weights while
/// the Hessians of its linears' inputs are summed; its linears are quantized
/// (round-to-nearest, GPTQ or AWQ); with `sequential` the *quantized* block's
/// outputs become block i+1's inputs (as the GPTQ paper and llm-compressor's
/// sequential pipeline do), so each block corrects for the error of those
/// before it; then block i leaves memory and its tensors go to the output.
/// Peak memory is one block's fp32 weights and Hessians plus the calibration
/// activations, whatever the depth.
///
/// Tensors that stay float keep their source's element type (bf16 stays
/// 16-bit); the token table becomes Q8_0 (GGUF Q8_0 kept as it is) and an
/// untied output projection Q8_0 unless `layerFormats` says otherwise, so the
/// result is never larger than its source.
public struct DecoderCompressor {
    public let format: QuantFormat
    public let method: ModelCompressor.Method
    /// GPTQ and AWQ: calibration texts, the backend that runs the blocks over them, and where they came from.
    public var calibration: (texts: [String], backend: any Backend, source: String)?
    /// The largest weights file written (transformers' `max_shard_size`): more weights go to several shards and an index.
    public var maxShardBytes = CheckpointWriter.defaultMaxShardBytes
    /// Tokens per calibration sequence.
    public var calibrationContext = 256
    /// Calibration sequences at most: the texts are joined and cut into this many.
    public var calibrationSequences = 128
    /// Per-layer exceptions, by the output's (Hugging Face) weight name: another format, or nil to keep it float.
    public var layerFormats: [String: QuantFormat?] = [:]
    /// A llama.cpp-style plan of wider formats for some tensors (`--quant q4_k_m`); `layerFormats` override it.
    public var mix: QuantMix?
    /// GPTQ: quantize columns by decreasing Hessian diagonal (``GPTQ/actOrder``).
    public var actOrder = false
    /// GPTQ: added to the Hessian's diagonal as a fraction of its mean.
    public var damping = 0.01
    /// Each block calibrates on the quantized blocks' outputs (true) or the source's (false).
    public var sequential = true
    /// AWQ: whether a layer whose scale folds into nothing before it (the attention output) may keep
    /// a run-time input scale; false for output formats that have no place for one (compressed-tensors, GGUF),
    /// where that layer is quantized without AWQ's scale.
    public var runtimeInputScales = true
    /// H = 2·XᵀX of each linear's input computed elsewhere (by the weight's Hugging Face name; K, V
    /// and up use Q's and gate's), e.g. over the whole model at once: used instead of calibrating block by
    /// block. Only without `sequential`, whose inputs depend on the quantized blocks before.
    public var hessians: [String: [Double]]?
    /// The ranks calibrating together (MPI processes or devices): each embeds and runs its
    /// share of the calibration sequences, the Hessians are summed exactly over all of them
    /// (``ExactSum``: the same bits as one rank), every rank quantizes each block the same
    /// way (checked: a block that differs between ranks ends the job) and moves its own
    /// sequences past it, and rank 0 alone writes the output.
    public var collective: any Collective = SingleProcess()
    /// The auto search behind `layerFormats`, recorded in `quantization_config.auto` and the card.
    var search: AutoSearch?

    /// The default format of the output projection (llama.cpp keeps it at 6–8 bits too): it sees every token's logits.
    public static let outputProjectionFormat = QuantFormat.q8_0

    public init(format: QuantFormat, method: ModelCompressor.Method = .rtn) {
        self.format = format
        self.method = method
    }

    /// The fortunes file decoders calibrate on by default: not the one the
    /// perplexity reference measures (`wisdom`), so evaluation stays held out.
    public static var defaultCalibrationFile: URL { URL(fileURLWithPath: "/usr/share/games/fortunes/literature") }

    /// The calibration texts joined (each ended by a newline) and cut into up to `count` sequences of `length` tokens
    /// (one shorter sequence when the text is shorter than `length`).
    static func sequences(of texts: [String], tokenizer: BPETokenizer, length: Int, count: Int) throws -> [[Int32]] {
        let tokens = texts.flatMap { tokenizer.encode($0 + "\n", parseSpecial: false) }
        guard tokens.count >= 2 else { throw SlimError.invalidArgument("the calibration text tokenizes to \(tokens.count) tokens") }
        return (0..<max(1, min(count, tokens.count / length))).map { s in Array(tokens[s * length..<min(tokens.count, (s + 1) * length)]) }
    }

    typealias Part = DecoderTensorNames.Part
    static let hf = DecoderTensorNames.huggingFace

    public func compress(_ sourceURL: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                         progress: ((Int, Int, String) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        if !collective.isRoot { return try compressWithoutWriting(sourceURL, start: start) }
        let claim = try CompressedFolder.claim(output, source: sourceURL, calibration: calibration?.source, overwrite: overwrite)
        defer { claim.release() }
        let source = try DecoderSource(sourceURL)
        let c = source.config
        if hessians != nil, sequential {
            throw SlimError.invalidArgument("Hessians computed elsewhere come from the source's activations; they cannot be sequential")
        }
        let outputProjection = c.tiedEmbeddings ? [] : [Self.hf.output + ".weight"]
        let planned = (mix?.formats(layers: c.layers, tiedEmbeddings: c.tiedEmbeddings) ?? [:]).merging(layerFormats) { _, given in given }
        let overrides = try LayerFormats.resolve(planned, among: Set((0..<c.layers).flatMap { Self.hf.linears($0) } + outputProjection
                                                                          + [Self.hf.tokenEmbedding + ".weight"]))
        var run = try Run(compressor: self, source: source, overrides: overrides)
        let calibrationNote = method == .rtn ? "none (round-to-nearest needs no data)"
            : hessians != nil ? "Hessians given by the caller (\(calibration?.source ?? "source unknown"))"
            : "\(run.calibrationUsed.sequences) sequences (\(run.calibrationUsed.tokens) tokens) from \(calibration?.source ?? "?"), on \(calibration?.backend.id.description ?? "?")\(collective.size > 1 ? " × \(collective.size) ranks" : ""), \(sequential ? "sequential (each block on the quantized blocks' outputs)" : "each block on the source's outputs")"
        return try CompressedFolder.write(
            to: output, config: { try outputConfig(source, layers: run.packedFormats) },
            earlierCard: source.folder?.appendingPathComponent("model_card.json"), maxShardBytes: maxShardBytes,
            files: { staging in
                if let folder = source.folder {
                    try StagedFolder.copyCompanionFiles(of: folder, into: staging)
                } else {
                    try source.tokenizer.writeHuggingFace(to: staging, maxLength: c.contextLength)
                }
            },
            tensors: { writer in
                // Each block's tensors go to the shard being written as soon as they exist, and leave memory.
                run.writer = writer
                // One step per block and one for the tables, so the ETA moves with the work.
                let steps = c.layers + 1
                for i in 0..<c.layers {
                    progress?(i, steps, "block \(i) of \(c.layers)")
                    try run.block(i)
                    source.release(block: i)
                }
                progress?(c.layers, steps, "token table and output")
                try run.tables()
                progress?(steps, steps, "writing")
            }) { bytesAfter in
            CompressionReport(
                source: sourceURL.path, sourceSHA256: hashSource ? source.file.contentSHA256() : "not computed",
                method: (search == nil ? "" : "auto ") + (method == .gptq && actOrder ? "gptq (act-order)" : method.rawValue),
                format: search.map { "mixed per layer under \($0.budgetBytes) bytes" } ?? format.description,
                layers: run.layers, bytesBefore: source.file.fileBytes, bytesAfter: bytesAfter,
                seconds: Date().timeIntervalSince(start) + (search?.seconds ?? 0), calibration: calibrationNote, search: search,
                others: "token table \(run.packedFormats[Self.hf.tokenEmbedding + ".weight"] ?? "float")"
                    + (c.tiedEmbeddings ? " (tied: it is the output projection too)" : ", lm_head \(run.packedFormats[Self.hf.output + ".weight"] ?? "float")")
                    + "; norms and biases in the source's element type")
        }
    }

    /// A rank other than 0: the same blocks over its own calibration sequences, nothing written.
    private func compressWithoutWriting(_ sourceURL: URL, start: Date) throws -> CompressionReport {
        let source = try DecoderSource(sourceURL)
        let c = source.config
        let outputProjection = c.tiedEmbeddings ? [] : [Self.hf.output + ".weight"]
        let overrides = try LayerFormats.resolve(layerFormats, among: Set((0..<c.layers).flatMap { Self.hf.linears($0) } + outputProjection
                                                                          + [Self.hf.tokenEmbedding + ".weight"]))
        var run = try Run(compressor: self, source: source, overrides: overrides)
        run.discardsOutput = true
        for i in 0..<c.layers {
            try run.block(i)
            source.release(block: i)
        }
        return CompressionReport(source: sourceURL.path, sourceSHA256: "not computed", method: method.rawValue, format: format.description,
                                 layers: run.layers, bytesBefore: source.file.fileBytes, bytesAfter: 0,
                                 seconds: Date().timeIntervalSince(start), calibration: "rank \(collective.rank): wrote nothing")
    }

    /// The output's config.json: the source folder's own (every key kept), or one made from a GGUF file's
    /// metadata; with what was done in `quantization_config`.
    private func outputConfig(_ source: DecoderSource, layers: [String: String]) throws -> [String: Any] {
        var config: [String: Any]
        if let folder = source.folder {
            config = try FileReading.jsonObject(at: folder.appendingPathComponent("config.json"))
        } else {
            config = source.config.huggingFace
            config["bos_token_id"] = source.tokenizer.bosID.map(Int.init) ?? NSNull()
            config["eos_token_id"] = source.tokenizer.eosID.map(Int.init) ?? NSNull()
        }
        var quantization: [String: Any] = ["quant_method": "slim", "method": search == nil ? method.rawValue : "auto",
                                           "format": search == nil ? format.description : "mixed", "layers": layers]
        quantization["auto"] = search?.json
        if method == .gptq { quantization["act_order"] = actOrder; quantization["damping"] = damping }
        if method != .rtn { quantization["sequential"] = sequential }
        if method == .awq, !runtimeInputScales { quantization["awq_output_projection"] = "no run-time input scale (the output file cannot hold one)" }
        config["quantization_config"] = quantization
        return config
    }

    /// The requested format, or where its groups do not tile the layer's K
    /// (SmolLM2's 576 columns and groups of 128) the largest int4 group that
    /// does, else int8 per channel; each layer's format is recorded.
    func layerFormat(_ format: QuantFormat, rows: Int, columns: Int, name: String) throws -> QuantFormat {
        let fit = format.fitting(columns: columns)
        do { try fit.validate(rows: rows, columns: columns, name: name) } catch {
            throw SlimError.invalidArgument("\(name) [\(rows), \(columns)] cannot be stored as \(format): \(error)")
        }
        return fit
    }
}
