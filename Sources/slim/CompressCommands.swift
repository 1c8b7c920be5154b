import ArgumentParser
import Foundation
import SlimCompress
import SlimCore
import SlimModel

struct CompressCommand: ParsableCommand, SplitsAcrossRanks {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Quantize a model's linear layers into a compressed folder that every Slim command loads, with a model card.")

    @Argument(help: "A sentence-transformers BERT folder, or a decoder (GGUF file or Llama folder).") var model: String
    @Option(name: .shortAndLong, help: "The output folder (refused if it exists, unless --overwrite), or a .gguf file.") var output: String
    @Option(help: "int8, int4-g32, int4-g64, int4-g128, q8_0, q4_0, q5_0, q5_1, q4_k, q6_k, or q4_k_m (decoders: llama.cpp's Q4_K_M mix) (q4_k falls back to q5_0 and q6_k to q8_0 where K is not a multiple of 256, as llama.cpp does).") var quant: String = "int8"
    @Flag(help: "int4: symmetric (the default) or asymmetric with zero points.") var symmetry: Symmetry = .sym
    @Option(help: "rtn (round to nearest), gptq (error-compensating), awq (activation-aware scales) or auto (a format per layer under --target-size); gptq, awq and auto calibrate.") var method: String = "rtn"
    @Option(help: ArgumentHelp("--method auto: the fraction of the source's weights (encoders: model.safetensors; decoders: its tensor bytes) the written weights may take (0 < F < 1).",
                               discussion: "Encoders: each layer's candidates (fp32, int8, int4-g128, int4-g32, 2:4, low rank) are measured alone by the cosine of the sentence embeddings. Decoders: each block's groups of linears that read one input (Q/K/V, O, gate/up, down) are measured alone as float, int8, int4-g128 (or the largest group tiling K) and int4-g32 by the KL divergence of the next token on 4 calibration sequences of 128 tokens, then written by GPTQ with the same Hessians (not sequential). The least summed error that fits is written, and the card lists every choice."))
    var targetSize: Double?
    @Option(help: "Calibration text (gptq, awq): fortune entries separated by % lines, or one text per line. Default: the fortunes 'wisdom' text for encoders, 'literature' for decoders (whose perplexity is measured on 'wisdom').")
    var calib: String?
    @Option(help: "Calibration samples: texts for encoders, sequences of --seq tokens for decoders.") var samples = 128
    @Option(help: "Decoders: tokens per calibration sequence.") var seq = 256
    @Flag(help: "gptq: quantize columns in order of decreasing Hessian diagonal (desc_act), each group's grid fixed first so the file needs no permutation.")
    var actOrder = false
    @Option(help: "gptq: damping added to the Hessian's diagonal, as a fraction of its mean.") var damp = 0.01
    @Flag(inversion: .prefixedNo, help: "Decoders, gptq/awq: calibrate each block on the quantized blocks' outputs (sequential, the default) or on the source's.")
    var sequential = true
    @Option(name: .customLong("layer"), help: "A per-layer exception, NAME=FORMAT (FORMAT a --quant value or fp32), repeatable.")
    var layerOptions: [String] = []
    @Option(help: ArgumentHelp("slim (Slim's folder), compressed-tensors (vLLM and transformers load it; decoders, --quant int8 or int4-g32/64/128[-asym]) or gguf (one file llama.cpp and Ollama load; --quant q8_0, q4_0, q4_k, q6_k or q4_k_m). Default: gguf when the output ends in .gguf, else slim.",
                               discussion: "compressed-tensors keeps the token table and lm_head in the source's float type and stores the very levels Slim chose; scales in the model's float type. gguf writes the card's facts into general.* and slim.* metadata."))
    var outputFormat: String?
    @Option(help: "compressed-tensors, --quant int8: f32 (weight-only, W8A16) or int8-dynamic (W8A8: activations quantized per token at run time).")
    var activations: String?
    @OptionGroup var backendOption: BackendOption
    @OptionGroup var devicesOption: DevicesOption
    @Flag(help: "Replace an existing output folder.") var overwrite = false
    @OptionGroup var shardSize: ShardSizeOption
    @Flag(help: "Print the report as JSON.") var json = false

    enum Symmetry: String, EnumerableFlag { case sym, asym }

    /// What this run writes (`validate` has refused an unknown `--output-format`).
    var written: OutputFormat {
        outputFormat.flatMap(OutputFormat.init(rawValue:)) ?? (output.lowercased().hasSuffix(".gguf") ? .gguf : .slim)
    }

    func validate() throws {
        guard ModelCompressor.Method(rawValue: method) != nil || method == "auto" else {
            throw ValidationError("--method \(method): supported: \((ModelCompressor.Method.allCases.map(\.rawValue) + ["auto"]).joined(separator: ", "))")
        }
        switch (method == "auto", targetSize) {
        case (true, nil): throw ValidationError("--method auto chooses a format per layer to fit a size: give --target-size F (e.g. 0.2 for a fifth of model.safetensors)")
        case (false, .some): throw ValidationError("--target-size is the budget of --method auto: add --method auto, or drop --target-size and pick --quant")
        case let (true, f?) where !(f > 0 && f < 1): throw ValidationError("--target-size \(f): the fraction of the source's model.safetensors, 0 < F < 1")
        case (true, _) where !layerOptions.isEmpty: throw ValidationError("--method auto chooses every layer's format; it takes no --layer exceptions")
        default: break
        }
        _ = try format()
        try Self.checkSamples(samples)
        if actOrder, method != "gptq" { throw ValidationError("--act-order orders GPTQ's columns: add --method gptq, or drop it") }
        guard damp > 0, damp.isFinite else { throw ValidationError("--damp \(damp): a positive fraction of the Hessian's mean diagonal (e.g. 0.01)") }
        guard seq >= 2 else { throw ValidationError("--seq \(seq): a calibration sequence needs at least 2 tokens") }
        if let outputFormat, OutputFormat(rawValue: outputFormat) == nil {
            throw ValidationError("--output-format \(outputFormat): supported: \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if written == .gguf {
            if method == "auto" { throw ValidationError("--method auto chooses int8 and int4 formats per layer, which GGUF has no types for; give --quant q8_0, q4_0, q5_0, q5_1, q4_k, q6_k or q4_k_m") }
            let f = try format()
            guard f.ggufKind != nil else { throw ValidationError("--quant \(quant) has no GGUF type; a .gguf output takes q8_0, q4_0, q5_0, q5_1, q4_k, q6_k or q4_k_m (q4_1 through slim export)") }
            guard layerOptions.isEmpty || (try? LayerFormats.parse(layerOptions))?.values.allSatisfy({ $0?.ggufKind != nil || $0 == nil }) == true else {
                throw ValidationError("--layer: a .gguf output takes q8_0, q4_0, q5_0, q5_1, q4_k, q6_k or fp32 for a layer")
            }
        }
        if written == .compressedTensors {
            switch try format() {
            case .int8PerChannel, .int4: break
            default: throw ValidationError("--output-format compressed-tensors stores int4 groups and int8 channels: --quant int4-g32, int4-g64, int4-g128 (--asym) or int8, not \(quant)")
            }
        }
        if let activations {
            guard CompressedTensorsWriter.Activations(rawValue: activations) != nil else {
                throw ValidationError("--activations \(activations): f32 or int8-dynamic")
            }
            guard written == .compressedTensors, try format() == .int8PerChannel else {
                throw ValidationError("--activations chooses W8A16 or W8A8 for --output-format compressed-tensors --quant int8; Slim's own folders choose activations when they run")
            }
        }
    }

    /// Options only the decoder pipeline reads, refused for an encoder rather than ignored.
    func refuseDecoderOptions() throws {
        let given = [(actOrder, "--act-order"), (damp != 0.01, "--damp"), (seq != 256, "--seq"), (!sequential, "--no-sequential")]
            .filter(\.0).map(\.1)
        guard given.isEmpty else { throw ValidationError("\(given.joined(separator: ", ")): decoder options; \(model) is an encoder") }
    }

    /// No sample is no calibration: a calibrated method would run on nothing.
    static func checkSamples(_ samples: Int) throws {
        guard samples >= 1 else { throw ValidationError("--samples \(samples): calibration needs at least 1 sample") }
    }

    /// `--quant q4_k_m`: llama.cpp's mix (decoders).
    var mix: QuantMix? { QuantMix(rawValue: quant.lowercased()) }

    func format() throws -> QuantFormat {
        if let mix { return mix.base }
        let f = try QuantFormat(parsing: quant)
        if case let .int4(g, _) = f { return .int4(groupSize: g, symmetric: symmetry == .sym) }
        guard f != .q4_1 else { throw ValidationError("--quant q4_1 is not a compression target yet; use q4_0 or int4-g32 --asym") }
        guard !f.isFloat16 else {
            throw ValidationError("--quant \(f) is a float type, not a compression target: perplexity, generate and eval run a checkpoint's weights as \(f) with --weights \(f)")
        }
        return f
    }

    func run() throws {
        let source = URL(fileURLWithPath: model)
        let decoder = try ModelFamily(path: source) == .decoder
        if Job.collective.size > 1 && (!decoder || method == "auto" || written != .slim) {
            throw SlimError.unsupported(op: "slim compress over \(Job.collective.size) ranks", backend: "MPI",
                                        reason: "only a decoder's rtn/gptq/awq pipeline into Slim's folder splits its calibration across ranks (then slim export writes GGUF); run this one without mpirun")
        }
        if written == .gguf { return try runGGUF(source, decoder: decoder) }
        let report = decoder ? try compressDecoder(source)
            : method == "auto" ? try compressEncoder(source, auto: true) : try compressEncoder(source)
        guard Job.isRoot else { return }
        let card = ModelCard(report: report)
        if json { try printJSON(card.json) } else {
            print(String(format: "%@ → %@: %@ %@, %d → %d bytes (%.3fx), %.1f s; model card in %@/MODEL_CARD.md",
                         model, output, report.method, report.format, report.bytesBefore, report.bytesAfter,
                         Double(report.bytesAfter) / Double(max(report.bytesBefore, 1)), report.seconds, output))
            if let search = report.search {
                let counts = Dictionary(grouping: search.layers, by: { $0.chosen.choice.description }).mapValues(\.count)
                print(String(format: "auto: budget %d bytes, predicted %d, predicted error %.6f, search %.1f s; chosen: %@", search.budgetBytes,
                             search.predictedBytes, search.predictedError, search.seconds,
                             counts.keys.sorted().map { "\($0) ×\(counts[$0]!)" }.joined(separator: ", ")))
            }
        }
    }

    /// Compresses into a hidden Slim folder beside the .gguf output, writes that as the GGUF file
    /// (staged, renamed into place), and removes the folder: one pipeline, one more writer.
    private func runGGUF(_ source: URL, decoder: Bool) throws {
        let out = URL(fileURLWithPath: output)
        let calibration = calib.map { [URL(fileURLWithPath: $0)] } ?? []
        let claim = try GGUFOutput.claim(out, inputs: [source] + calibration, overwrite: overwrite)
        defer { claim.release() }
        let scratch = GGUFOutput.scratchFolder(for: out)
        try? FileManager.default.removeItem(at: scratch)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let report = decoder ? try compressDecoder(source, to: scratch, inside: .gguf) : try compressEncoder(source, to: scratch, inside: .gguf)
        let tokenizer = source.pathExtension.lowercased() == "gguf" ? try GGUFFile(contentsOf: source) : nil
        let written = try GGUFExport(tokenizerSource: tokenizer).export(scratch, to: out, overwrite: overwrite)
        if json {
            var card = ModelCard(report: report).json
            card["gguf"] = ["architecture": written.architecture, "tensors": written.tensors, "file_bytes": written.fileBytes, "kinds": written.kinds]
            try printJSON(card)
        } else {
            print(String(format: "%@ → %@: %@ %@, %d → %d bytes (%.3fx) as GGUF (%@, %d tensors: %@), %.1f s; the card's facts are in general.* and slim.* metadata",
                         model, output, report.method, report.format, report.bytesBefore, written.fileBytes,
                         Double(written.fileBytes) / Double(max(report.bytesBefore, 1)), written.architecture, written.tensors,
                         written.kinds.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "), report.seconds))
        }
    }

    /// A GGUF file or Llama folder into a Llama folder; GPTQ calibrates on held-out fortunes by default.
    private func compressDecoder(_ source: URL) throws -> CompressionReport {
        if written == .compressedTensors {
            guard method != "auto" else { throw ValidationError("--output-format compressed-tensors takes one --quant format; --method auto is not written there yet") }
            let output = URL(fileURLWithPath: output)
            return try CompressedTensorsWriter.write(to: output, source: source, calibration: calib ?? (method == "rtn" ? nil : DecoderCompressor.defaultCalibrationFile.path),
                                                     overwrite: overwrite, activations: CompressedTensorsWriter.Activations(rawValue: activations ?? "f32")!,
                                                     // A GGUF file's tables were blocks: fp16 keeps the float token table at 2 bytes a weight.
                                                     floatType: isFolder(source) ? nil : .f16, maxShardBytes: try shardSize.bytes) { slim in
                // The token table and lm_head stay in the source's float type: compressed-tensors quantizes Linear layers.
                try compressDecoder(source, to: slim, inside: .compressedTensors)
            }
        }
        if method == "auto" { return try compressDecoderAuto(source) }
        return try compressDecoder(source, to: URL(fileURLWithPath: output), inside: nil)
    }

    private func isFolder(_ url: URL) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &folder) && folder.boolValue
    }

    /// Slim's folder at `output`: the output itself (`inside` nil), or a scratch folder the
    /// writer of another format turns into its file. Those formats have no place for AWQ's
    /// run-time input scales, and compressed-tensors keeps the token table and lm_head float.
    private func compressDecoder(_ source: URL, to output: URL, inside: OutputFormat?) throws -> CompressionReport {
        var compressor = DecoderCompressor(format: try format(), method: ModelCompressor.Method(rawValue: method)!)
        compressor.layerFormats = try LayerFormats.parse(layerOptions)
        if inside == .compressedTensors {
            compressor.layerFormats = CompressedTensorsWriter.floatTables(compressor.layerFormats, tiedEmbeddings: try DecoderSource(source).config.tiedEmbeddings)
        }
        compressor.runtimeInputScales = inside == nil
        let overwrite = overwrite && inside == nil
        compressor.mix = mix
        (compressor.actOrder, compressor.damping, compressor.sequential, compressor.calibrationContext) = (actOrder, damp, sequential, seq)
        compressor.maxShardBytes = try shardSize.bytes
        compressor.collective = Job.collective
        if compressor.method != .rtn {
            let file = calib.map { URL(fileURLWithPath: $0) } ?? DecoderCompressor.defaultCalibrationFile
            // Every text of the file, joined and cut into up to --samples sequences.
            compressor.calibration = (try Calibration.samples(from: file, count: .max), try backendOption.open(), file.path)
            compressor.calibrationSequences = samples
        }
        let bar = ProgressLine(unit: "blocks (calibrate, quantize, write)")
        defer { bar.finish() }
        if let devices = try devicesOption.selected() {
            guard compressor.calibration != nil else { throw ValidationError("--devices splits calibration: use it with gptq or awq") }
            // Each replica copies the value (its own backend and rank replace the shared ones).
            let (base, out) = (UncheckedSendable(compressor), output)
            // A replica per device calibrates its share of the sequences; device 0's replica writes.
            return try DeviceReplicas.run(devices) { backend, ranks in
                var c = base.value
                c.calibration?.backend = backend
                c.collective = ranks
                return try c.compress(source, to: out, overwrite: overwrite) { done, total, _ in if ranks.isRoot { bar.update(done, of: total) } }
            }
        }
        return try compressor.compress(source, to: output, overwrite: overwrite) { done, total, _ in
            bar.update(done, of: total)
        }
    }

    /// Measures each group of a decoder's linears by the KL divergence of the next token, then writes the choice that fits --target-size.
    private func compressDecoderAuto(_ source: URL) throws -> CompressionReport {
        let file = calib.map { URL(fileURLWithPath: $0) } ?? DecoderCompressor.defaultCalibrationFile
        var compressor = try DecoderAutoCompressor(targetSize: targetSize ?? 0,
                                                   calibration: (try Calibration.samples(from: file, count: .max), try backendOption.open(), file.path))
        (compressor.calibrationSequences, compressor.calibrationContext, compressor.damping) = (samples, seq, damp)
        compressor.maxShardBytes = try shardSize.bytes
        var bars: [DecoderAutoCompressor.Step: ProgressLine] = [:]
        defer { bars.values.forEach { $0.finish() } }
        return try compressor.compress(source, to: URL(fileURLWithPath: output), overwrite: overwrite) { step, done, total in
            if bars[step] == nil {
                bars.values.forEach { $0.finish() }
                bars[step] = ProgressLine(unit: step == .measure ? "candidates measured (KL divergence)" : "blocks written")
            }
            bars[step]!.update(done, of: total)
        }
    }

    /// Measures every layer's candidates on the calibration texts, then writes the choice that fits --target-size.
    private func compressAuto(_ source: URL) throws -> CompressionReport {
        try refuseDecoderOptions()
        let file = calib.map { URL(fileURLWithPath: $0) } ?? Calibration.defaultFile
        var compressor = try AutoCompressor(targetSize: targetSize ?? 0,
                                            calibration: (try Calibration.samples(from: file, count: samples), try backendOption.open(), file.path))
        compressor.maxShardBytes = try shardSize.bytes
        let bar = ProgressLine(unit: "layers measured, then tensors written")
        defer { bar.finish() }
        return try compressor.compress(source, to: URL(fileURLWithPath: output), overwrite: overwrite) { done, total, _ in
            bar.update(done, of: total)
        }
    }

    private func compressEncoder(_ source: URL, auto: Bool) throws -> CompressionReport {
        if written != .slim {
            throw ValidationError("--output-format \(written.rawValue) with --method auto is written for decoders; \(model) is an encoder (Slim's folder only, for now)")
        }
        return try compressAuto(source)
    }

    private func compressEncoder(_ source: URL) throws -> CompressionReport {
        if written != .slim {
            throw ValidationError("--output-format \(written.rawValue) is written for decoders; \(model) is an encoder (Slim's folder or GGUF)")
        }
        return try compressEncoder(source, to: URL(fileURLWithPath: output), inside: nil)
    }

    /// Slim's folder at `output`, or (`inside` .gguf) a scratch folder for the GGUF writer:
    /// GGUF has no int8 per row, so the word and position tables go out as Q8_0 there.
    private func compressEncoder(_ source: URL, to output: URL, inside: OutputFormat?) throws -> CompressionReport {
        try refuseDecoderOptions()
        if let mix { throw ValidationError("--quant \(mix.rawValue) is llama.cpp's mix for decoders; \(model) is an encoder: use q4_k") }
        var compressor = ModelCompressor(format: try format(), method: ModelCompressor.Method(rawValue: method)!)
        compressor.layerFormats = try LayerFormats.parse(layerOptions)
        if inside == .gguf { compressor.tableFormat = .q8_0 }
        compressor.maxShardBytes = try shardSize.bytes
        if compressor.method != .rtn {
            let file = calib.map { URL(fileURLWithPath: $0) } ?? Calibration.defaultFile
            compressor.calibration = (try Calibration.samples(from: file, count: samples), try backendOption.open(), file.path)
        }
        let bar = ProgressLine(unit: "tensors")
        defer { bar.finish() }
        return try compressor.compress(source, to: output, overwrite: overwrite && inside == nil) { done, total, _ in
            bar.update(done, of: total)
        }
    }
}

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Prune a model's linear layers: zero the least important weights (N:M, unstructured) or remove whole MLP neurons or attention heads (smaller, faster tensors), writing a folder Slim loads and compresses further.")

    @Argument(help: "A sentence-transformers BERT folder (fp32, or already pruned).") var model: String
    @Option(name: .shortAndLong, help: "The output folder (refused if it exists, unless --overwrite).") var output: String
    @Option(help: ArgumentHelp("2:4, 4:8 (N of every M inputs kept), unstructured:F, neurons:F or heads:F (F: the fraction removed).",
                               discussion: "neurons:F removes F of each layer's MLP neurons, heads:F F of its attention heads; the tensors shrink and config.json records pruned_heads (as Hugging Face does) and slim_intermediate_sizes."))
    var pattern: String = "2:4"
    @Option(help: "magnitude (|W|; structured: weight norms) or wanda (|W|·‖X‖ per input; structured: each unit's output norm on calibration data).")
    var method: String = "magnitude"
    @Option(help: "Calibration text (wanda). Default: the fortunes text.") var calib: String?
    @Option(help: "Calibration samples (wanda).") var samples = 128
    @Flag(help: "Replace an existing output folder.") var overwrite = false
    @OptionGroup var shardSize: ShardSizeOption
    @Flag(help: "Print the report as JSON.") var json = false
    @OptionGroup var backendOption: BackendOption

    func validate() throws {
        _ = try PruningPattern(parsing: pattern)
        guard PruningMethod(rawValue: method) != nil else { throw ValidationError("--method must be magnitude or wanda") }
        try CompressCommand.checkSamples(samples)
    }

    func run() throws {
        var pruner = ModelPruner(pattern: try PruningPattern(parsing: pattern), method: PruningMethod(rawValue: method)!)
        pruner.maxShardBytes = try shardSize.bytes
        if pruner.method == .wanda {
            let file = calib.map { URL(fileURLWithPath: $0) } ?? Calibration.defaultFile
            pruner.calibration = (try Calibration.samples(from: file, count: samples), try backendOption.open(), file.path)
        }
        let bar = ProgressLine(unit: "tensors")
        let report = try pruner.prune(URL(fileURLWithPath: model), to: URL(fileURLWithPath: output), overwrite: overwrite) { done, total, _ in
            bar.update(done, of: total)
        }
        bar.finish()
        if json { try printJSON(ModelCard(report: report).json) } else {
            let mean = report.layers.map(\.relativeError).reduce(0, +) / Double(max(report.layers.count, 1))
            print(String(format: "%@ → %@: %@ %@, %d → %d bytes (%.3fx), mean relative weight error %.4f, %.1f s; model card in %@/MODEL_CARD.md",
                         model, output, report.method, report.format, report.bytesBefore, report.bytesAfter,
                         Double(report.bytesAfter) / Double(max(report.bytesBefore, 1)), mean, report.seconds, output))
        }
    }
}

struct LowRankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lowrank", abstract: "Replace each linear weight by two truncated-SVD factors (run as two GEMMs).")

    @Argument(help: "A sentence-transformers BERT folder (fp32 or pruned).") var model: String
    @Option(name: .shortAndLong, help: "The output folder (refused if it exists, unless --overwrite).") var output: String
    @Option(help: "Fraction of each layer's parameters the two factors keep.") var keep: Double?
    @Option(help: "A fixed rank for every layer instead of --keep.") var rank: Int?
    @OptionGroup var nonFinite: NonFiniteOption
    @Flag(help: "Replace an existing output folder.") var overwrite = false
    @OptionGroup var shardSize: ShardSizeOption
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (keep == nil) != (rank == nil) else { throw ValidationError("give exactly one of --keep and --rank") }
        if let keep, !(keep > 0 && keep < 1) { throw ValidationError("--keep must be in (0, 1)") }
        if let rank, rank < 1 { throw ValidationError("--rank must be at least 1") }
    }

    func run() throws {
        var tool = ModelLowRank(size: keep.map { .keep($0) } ?? .rank(rank ?? 1))
        tool.maxShardBytes = try shardSize.bytes
        let bar = ProgressLine(unit: "tensors")
        let report = try tool.factorize(URL(fileURLWithPath: model), to: URL(fileURLWithPath: output), overwrite: overwrite) { done, total, _ in
            bar.update(done, of: total)
        }
        bar.finish()
        if json { try printJSON(ModelCard(report: report).json) } else {
            let mean = report.layers.map(\.relativeError).reduce(0, +) / Double(max(report.layers.count, 1))
            print(String(format: "%@ → %@: svd %@, %d → %d bytes, mean relative weight error %.4f, %.1f s",
                         model, output, report.format, report.bytesBefore, report.bytesAfter, mean, report.seconds))
        }
    }
}
