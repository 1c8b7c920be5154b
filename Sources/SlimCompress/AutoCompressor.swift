import Foundation
import SlimCore
import SlimModel

/// `slim compress --method auto --target-size F`: mixed precision under a size
/// budget. Every weight's candidates are measured alone (LayerSensitivity),
/// the multiple-choice knapsack picks the least summed error whose file fits
/// F × the source's model.safetensors (BudgetedChoice), and ModelCompressor
/// writes the choice as per-layer formats; the written file is checked
/// against the budget.
public struct AutoCompressor {
    public let targetSize: Double
    /// The texts measured on (and GPTQ calibrated on), and the backend that runs the model over them.
    public let calibration: (texts: [String], backend: any Backend, source: String)
    /// The largest weights file written (transformers' `max_shard_size`): more weights go to several shards and an index.
    public var maxShardBytes = CheckpointWriter.defaultMaxShardBytes

    public init(targetSize: Double, calibration: (texts: [String], backend: any Backend, source: String)) throws {
        guard targetSize > 0, targetSize < 1 else {
            throw SlimError.invalidArgument("--target-size \(targetSize): give the fraction of the source's model.safetensors to fit in, 0 < F < 1")
        }
        self.targetSize = targetSize
        self.calibration = calibration
    }

    /// `progress` gets (done, total, what) while measuring, then ModelCompressor's tensors.
    public func compress(_ source: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                         progress: ((Int, Int, String) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        let claim = try CompressedFolder.claim(output, source: source, calibration: calibration.source, overwrite: overwrite)
        defer { claim.release() }
        let model = try BertSource(source, step: "compress")
        let original = try SentenceEmbedder.load(folder: source, backend: calibration.backend)
        let hessians = try Calibration.hessians(original, texts: calibration.texts)
        let costs = try LayerSensitivity(model: model, original: original, texts: calibration.texts, hessians: hessians)
            .measure(progress: progress)

        let budget = Int(targetSize * Double(model.file.fileBytes))
        let fixed = Self.fixedBytes(model, chosenFor: Set(costs.map(\.name)))
        // 2:4 costs fp32's bytes with more error (Slim stores it dense): never worth choosing, so only the card shows it.
        let choosable = costs.map { $0.options.filter { $0.choice != .sparse24 } }
        let picks: [Int]
        do {
            picks = try BudgetedChoice.choose(choosable.map { $0.map { .init(error: $0.error, bytes: $0.bytes) } },
                                              budget: budget - fixed, unit: BudgetedChoice.unit(forBudget: budget))
        } catch {
            let smallest = fixed + choosable.reduce(0) { $0 + $1.map(\.bytes).min()! }
            throw SlimError.invalidArgument("--target-size \(targetSize) allows \(budget) bytes of \(model.file.fileBytes), but the smallest storage of every layer takes \(smallest) bytes (\(String(format: "%.3f", Double(smallest) / Double(model.file.fileBytes)))x, \(fixed) of them norms, biases and other weights kept as they are): raise --target-size")
        }
        let search = AutoSearch(
            targetSize: targetSize, budgetBytes: budget, fixedBytes: fixed,
            layers: costs.indices.map { (costs[$0].name, choosable[$0][picks[$0]], costs[$0].options) },
            seconds: Date().timeIntervalSince(start),
            notes: "int formats of linear layers by GPTQ (round-to-nearest for tables); error: 1 − mean cosine of the sentence embeddings to the original's over the \(calibration.texts.count) calibration texts with that layer alone changed; 2:4 is stored dense fp32, so it is measured but never chosen")

        var compressor = ModelCompressor(format: .int4(groupSize: 128, symmetric: true), method: .gptq)
        compressor.calibration = calibration
        compressor.maxShardBytes = maxShardBytes
        compressor.hessians = hessians
        compressor.search = search
        for layer in search.layers {
            compressor.layerFormats[layer.name] = .some(layer.chosen.choice.format)
            if case let .lowRank(rank) = layer.chosen.choice { compressor.lowRank[layer.name] = rank }
        }
        let report = try compressor.compress(source, to: output, overwrite: overwrite, hashSource: hashSource, progress: progress)
        guard report.bytesAfter <= budget else {
            throw SlimError.invalidArgument("the written \(output.path)/model.safetensors takes \(report.bytesAfter) bytes, over the \(budget)-byte budget (predicted \(search.predictedBytes)): the size prediction is wrong")
        }
        return report
    }

    /// The bytes of every tensor the search does not choose for, as the
    /// compressor copies them, plus an upper bound of the safetensors header:
    /// up to three entries (data, scales, zeros) per chosen weight, one per other tensor,
    /// each at most its name, a suffix and 100 characters of dtype, shape and offsets.
    static func fixedBytes(_ model: BertSource, chosenFor chosen: Set<String>) -> Int {
        model.file.tensors.reduce(8 + 1024) { total, t in
            chosen.contains(t.name) ? total + 3 * (t.name.count + 120) : total + t.byteRange.count + t.name.count + 120
        }
    }
}
