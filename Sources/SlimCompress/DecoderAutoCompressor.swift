import Foundation
import SlimCore
import SlimModel

/// `slim compress DECODER --method auto --target-size F`: a format per group
/// of linears (``DecoderSensitivity``) so that the written weights fit F × the
/// source's weight bytes with the least summed damage, the damage of a choice
/// being the model's mean KL divergence of the next token when that group
/// alone is stored so. The multiple-choice knapsack (``BudgetedChoice``) picks,
/// and the layer-wise pipeline (``DecoderCompressor``) writes the choice as
/// per-layer formats by GPTQ with the very Hessians the search measured with,
/// so every written layer is a candidate that was measured. That makes the
/// pipeline not sequential here: sequential GPTQ's layers depend on the
/// quantized blocks before them, which a one-group-at-a-time measure cannot know.
public struct DecoderAutoCompressor {
    public let targetSize: Double
    /// The text that calibrates GPTQ and that the damage is measured on, the backend that runs the model, and where the text came from.
    public let calibration: (texts: [String], backend: any Backend, source: String)
    /// GPTQ's statistics: sequences of `calibrationContext` tokens, at most `calibrationSequences` of them.
    public var calibrationContext = 256
    public var calibrationSequences = 128
    /// The damage is measured on the first `measureSequences` sequences of `measureContext` tokens of the calibration text:
    /// each candidate of each group costs that many forward passes from its block on.
    public var measureSequences = 4
    public var measureContext = 128
    /// GPTQ: added to the Hessian's diagonal as a fraction of its mean.
    public var damping = 0.01
    public var maxShardBytes = CheckpointWriter.defaultMaxShardBytes

    /// What `progress` is counting: candidates measured, then the pipeline's blocks written.
    public enum Step: Sendable, Hashable { case measure, write }

    public init(targetSize: Double, calibration: (texts: [String], backend: any Backend, source: String)) throws {
        guard targetSize > 0, targetSize < 1 else {
            throw SlimError.invalidArgument("--target-size \(targetSize): give the fraction of the source's weight bytes to fit in, 0 < F < 1")
        }
        self.targetSize = targetSize
        self.calibration = calibration
    }

    typealias Part = DecoderTensorNames.Part

    public func compress(_ sourceURL: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                         progress: ((Step, Int, Int) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        let claim = try CompressedFolder.claim(output, source: sourceURL, calibration: calibration.source, overwrite: overwrite)
        defer { claim.release() }
        guard measureSequences >= 1, measureContext >= 2 else {
            throw SlimError.invalidArgument("the damage is measured on \(measureSequences) sequences of \(measureContext) tokens: at least 1 of 2 tokens")
        }
        let source = try DecoderSource(sourceURL)
        let c = source.config
        let model = try source.load(on: calibration.backend)
        let hessians = try Self.hessians(of: model, source: source, on: try DecoderCompressor.sequences(
            of: calibration.texts, tokenizer: source.tokenizer, length: min(calibrationContext, c.contextLength), count: calibrationSequences))
        let measured = try DecoderCompressor.sequences(of: calibration.texts, tokenizer: source.tokenizer,
                                                       length: min(measureContext, c.contextLength), count: measureSequences)
        let sensitivity = DecoderSensitivity(source: source, model: model, hessians: hessians,
                                             gptq: GPTQ(format: .int8PerChannel, damping: damping), sequences: measured)
        let costs = try sensitivity.measure { progress?(.measure, $0, $1) }

        let weightBytes = source.file.tensors.reduce(0) { $0 + $1.byteRange.count }
        let budget = Int(targetSize * Double(weightBytes))
        let fixed = try fixedBytes(source, chosen: Set(try sensitivity.layout().flatMap(\.sourceNames)), shards: budget / maxShardBytes + 1)
        let picks: [Int]
        do {
            picks = try BudgetedChoice.choose(costs.map { $0.options.map { .init(error: $0.error, bytes: $0.bytes) } },
                                              budget: budget - fixed, unit: BudgetedChoice.unit(forBudget: budget))
        } catch {
            let smallest = fixed + costs.reduce(0) { $0 + $1.options.map(\.bytes).min()! }
            throw SlimError.invalidArgument("--target-size \(targetSize) allows \(budget) of the source's \(weightBytes) weight bytes, but the smallest candidate of every linear takes \(smallest) bytes (\(String(format: "%.3f", Double(smallest) / Double(weightBytes)))x, \(fixed) of them norms, the token table and output projection): raise --target-size")
        }
        var search = AutoSearch(
            targetSize: targetSize, budgetBytes: budget, fixedBytes: fixed,
            layers: costs.indices.map { (costs[$0].name, costs[$0].options[picks[$0]], costs[$0].options) },
            seconds: Date().timeIntervalSince(start),
            notes: "linears chosen per block in groups that read one input (Q/K/V, O, gate/up, down); int formats by GPTQ (damping \(damping)) with Hessians of the source's activations on \(hessianNote(source)), written with those Hessians (not sequential); error: mean KL divergence of the next-token distribution from the source's over \(measured.count) calibration sequences (\(measured.reduce(0) { $0 + $1.count }) tokens, every position) with that group alone changed; budget: F × the source's \(weightBytes) tensor bytes")
        search.errorMeasure = "mean KL divergence of the next token, nats"
        search.fixedContents = "norms, the token table and output projection, the header"

        var compressor = DecoderCompressor(format: .int4(groupSize: 128, symmetric: true), method: .gptq)
        (compressor.calibration, compressor.damping, compressor.sequential, compressor.maxShardBytes) = (calibration, damping, false, maxShardBytes)
        compressor.search = search
        compressor.hessians = Dictionary(uniqueKeysWithValues: (0..<c.layers).flatMap { i in
            DecoderSensitivity.groups.compactMap { group in
                hessians[source.names.block(i, group[0]) + ".weight"].map { (DecoderCompressor.hf.block(i, group[0]) + ".weight", $0) }
            }
        })
        for (layer, group) in zip(search.layers, try sensitivity.layout()) {
            for name in group.outputNames { compressor.layerFormats[name] = .some(layer.chosen.choice.format) }
        }
        let report = try compressor.compress(sourceURL, to: output, overwrite: overwrite, hashSource: hashSource) { done, total, _ in
            progress?(.write, done, total)
        }
        guard report.bytesAfter <= budget else {
            throw SlimError.invalidArgument("the written \(output.path)/model.safetensors takes \(report.bytesAfter) bytes, over the \(budget)-byte budget (predicted \(search.predictedBytes)): the size prediction is wrong")
        }
        return report
    }

    private func hessianNote(_ source: DecoderSource) -> String {
        "up to \(calibrationSequences) sequences of \(calibrationContext) tokens from \(calibration.source)"
    }

    /// H = 2·XᵀX of each group's input over the whole source model at once, by the source's name of the group's first weight.
    static func hessians(of model: DecoderModel, source: DecoderSource, on sequences: [[Int32]]) throws -> [String: [Double]] {
        let keys = Set((0..<source.config.layers).flatMap { i in DecoderSensitivity.groups.map { source.names.block(i, $0[0]) + ".weight" } })
        let collector = HessianCollector(backend: model.backend) { keys.contains($0) ? $0 : nil }
        for ids in sequences { _ = try model.hiddenStates(ids, observer: collector.observe) }
        return try collector.hessians()
    }

    /// What the pipeline writes besides the chosen linears, as an upper bound:
    /// every other source tensor in the type it is written in (norms and biases
    /// in their source's float type, f32 for GGUF blocks; the token table and an
    /// untied output projection in their table format, rows independent so one
    /// row's bytes times the rows), and a safetensors header allowance of up to
    /// three entries per source tensor, each its name plus 64 characters (Hugging
    /// Face names are longer than GGUF's) and 120 of dtype, shape and offsets, and 1 KiB of slack per shard.
    func fixedBytes(_ source: DecoderSource, chosen: Set<String>, shards: Int) throws -> Int {
        let c = source.config
        var chosen = chosen
        if c.architecture.fusedProjections {
            for i in 0..<c.layers { for fused in FusedWeightStore.fusedLayout(block: i, config: c) { chosen.insert(fused.fused + ".weight") } }
        }
        let tables = [source.names.tokenEmbedding + ".weight"] + (c.tiedEmbeddings ? [] : [source.names.output + ".weight"])
        let formatter = DecoderCompressor(format: .q8_0)
        var total = (8 + 1024) * shards
        for t in source.file.tensors {
            total += 3 * (t.name.count + 64 + 120)
            if chosen.contains(t.name) { continue }
            if tables.contains(t.name), t.shape.count == 2 {
                let format = try formatter.layerFormat(t.name == tables[0] ? .q8_0 : DecoderCompressor.outputProjectionFormat,
                                                       rows: t.shape[0], columns: t.shape[1], name: t.name)
                let row = try QuantCodec.encode(try source.file.floats(t, rows: 0..<1), rows: 1, columns: t.shape[1], format: format, name: t.name)
                total += t.shape[0] * AutoCandidates.packedBytes(row)
            } else {
                total += t.shape.reduce(1, *) * (source.storedKind(t.name).elementBytes ?? 4)
            }
        }
        return total
    }
}
