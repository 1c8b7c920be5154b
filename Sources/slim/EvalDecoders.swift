import ArgumentParser
import Foundation
import SlimCompress
import SlimCore
import SlimModel
import SlimParallel

extension EvalCommand {
    /// Both decoders on the same text, chunk by chunk as `slim perplexity` scores it: both
    /// perplexities, and over the same positions the KL divergence of the compressed model's
    /// next-token distribution from the original's, top-1 agreement and Δp (llama.cpp's
    /// `--kl-divergence`); with --slices and --robustness the same per slice and per perturbation;
    /// calibration and the worst positions. Recorded in the compressed folder's card.
    /// Over MPI ranks or `--devices` replicas each runs its share of every text's chunks and all
    /// gather every position's comparison: rank 0's report is one process's, and rank 0 alone
    /// prints it and records it in the card.
    func evaluateDecoders() throws {
        if maxPerSlice != nil {
            throw ValidationError("--max-per-slice bounds an encoder's texts per slice; a decoder scores each slice file in chunks: bound them with --chunks")
        }
        let file = data ?? "/usr/share/games/fortunes/wisdom"
        let text = try TextInput.decodeUTF8(try FileReading.data(atPath: file), origin: file)
        guard let devices = try devicesOption.selected() else {
            return try evaluateDecoders(text: text, file: file, backend: try backendOption.open(), ranks: Job.collective)
        }
        let command = UncheckedSendable(self)
        try DeviceReplicas.run(devices) { backend, ranks in
            try command.value.evaluateDecoders(text: text, file: file, backend: backend, ranks: ranks)
        }
    }

    /// One rank's (or replica's) share of the evaluation; its rank 0 reports.
    private func evaluateDecoders(text: String, file: String, backend: any Backend, ranks: any Collective) throws {
        // fp32 activations: the comparison measures what the weights' compression cost, not an activation format's.
        let floatWeights = try FloatWeights(option: weights)
        let (a, tokenizer) = try DecoderModel.load(URL(fileURLWithPath: original), backend: backend, activations: .f32, weights: floatWeights)
        let (b, compressedTokenizer) = try DecoderModel.load(URL(fileURLWithPath: compressed), backend: backend, activations: .f32,
                                                             weights: floatWeights)
        guard compressedTokenizer.encode(text, addBOS: false, parseSpecial: false) == tokenizer.encode(text, addBOS: false, parseSpecial: false) else {
            throw SlimError.malformedFile(path: compressed, detail: "its tokenizer splits \(file) differently from \(original)'s: the two models cannot be compared token by token")
        }
        var evaluator = DecoderEvaluator(original: a, compressed: b, tokenizer: tokenizer)
        evaluator.context = ctx
        evaluator.chunks = chunks
        evaluator.slices = slices.map(SliceChoice.init(parsing:))
        evaluator.perturbations = robustness ? Perturbation.allCases : []
        evaluator.seed = seed
        evaluator.worstCount = worst
        evaluator.collective = ranks
        let entries = evaluator.slices == .byLength ? try Calibration.samples(from: URL(fileURLWithPath: file), count: .max) : []
        let progress = StageProgress()
        let report = try evaluator.run(text: text, entries: entries) { if ranks.isRoot { progress.update($0, $1, $2) } }
        progress.finish()
        guard ranks.isRoot else { return }
        let c = report.main.comparison
        let (bytesA, bytesB) = (Self.weightBytes(original), Self.weightBytes(compressed))
        var o = report.json
        o.merge(["bytes_original": bytesA, "bytes_compressed": bytesB, "size_ratio": Double(bytesB) / Double(max(bytesA, 1)),
                 "data": file, "ctx": ctx]) { $1 }
        let recorded = try recordInCard(report.record(kind: cardKind(file)), data: file)
        if json { try printJSON(o); return }
        print(String(format: "perplexity on %@ (%d chunks of %d): original %.4f, compressed %.4f (%+.2f%%)", file, report.main.chunks, ctx,
                     c.perplexityOriginal, c.perplexityCompressed, (c.perplexityCompressed / c.perplexityOriginal - 1) * 100))
        print(String(format: "KL divergence over %d positions: mean %.6f, p99 %.6f, max %.6f; top-1 agreement %.2f%%; mean Δp %+.3f%%",
                     c.count, c.klMean, c.klP99, c.klMax, c.top1Agreement * 100, c.deltaPMean * 100))
        print(String(format: "calibration (ECE, 15 bins): original %.4f, compressed %.4f", report.calibrationOriginal.expectedCalibrationError,
                     report.calibrationCompressed.expectedCalibrationError))
        for row in report.slices {
            if let skipped = row.skipped { print("slice \(row.name): skipped (\(skipped))"); continue }
            print(String(format: "slice %@: KL %.6f, top-1 agreement %.2f%%%@", row.name, row.degradation ?? 0,
                         (row.figures["top1_agreement"] ?? 0) * 100, row.flagged ? "  FLAGGED" : ""))
        }
        for r in report.robustness {
            if let skipped = r.skipped { print("\(r.perturbation): skipped (\(skipped))"); continue }
            print(String(format: "%@: KL %.6f → %.6f, top-1 agreement %.2f%% → %.2f%% (clean → perturbed)", r.perturbation,
                         r.clean["kl_divergence_mean"] ?? 0, r.perturbed["kl_divergence_mean"] ?? 0,
                         (r.clean["top1_agreement"] ?? 0) * 100, (r.perturbed["top1_agreement"] ?? 0) * 100))
        }
        for w in report.worst {
            print(String(format: "worst KL %.4f after …%@: next %@, original %@ (%.2f), compressed %@ (%.2f)", w.kl,
                         String(w.context.suffix(60)).debugDescription, w.target.debugDescription, w.top1Original.debugDescription,
                         w.probabilityOriginal, w.top1Compressed.debugDescription, w.probabilityCompressed))
        }
        print(String(format: "size: %d → %d bytes (%.3fx); speed: %.1f → %.1f tokens/s", bytesA, bytesB,
                     Double(bytesB) / Double(max(bytesA, 1)), report.main.tokensPerSecondOriginal, report.main.tokensPerSecondCompressed))
        if let recorded { print("recorded in \(recorded)") }
    }

    /// What an evaluation measured, the key under which the card keeps it (a later one of the same kind replaces it).
    func cardKind(_ file: String) -> String {
        var kind = "\(URL(fileURLWithPath: file).lastPathComponent)"
        if let slices { kind += ", slices \(slices == "by-length" ? slices : URL(fileURLWithPath: slices).lastPathComponent)" }
        if robustness { kind += ", robustness" }
        return kind
    }

    /// Records `record` in the compressed folder's card when it is a folder Slim wrote; says why not otherwise.
    /// `file` is the main text evaluated (an input the card's writing must not touch).
    func recordInCard(_ record: EvaluationRecord, data file: String) throws -> String? {
        let folder = URL(fileURLWithPath: compressed)
        guard !noCard else { return nil }
        guard OutputPolicy.isSlimFolder(folder) else {
            printError("note: \(compressed) is not a folder Slim wrote; the evaluation is not recorded in a model card")
            return nil
        }
        let read = [original, file] + (slices.map { $0 == "by-length" ? [] : [$0] } ?? [])
        try record.record(in: folder, inputs: read.map(URL.init(fileURLWithPath:)))
        return folder.appendingPathComponent("MODEL_CARD.md").path
    }

    /// The weights' bytes: a GGUF file, or a folder's safetensors (one file or shards).
    static func weightBytes(_ path: String) -> Int {
        guard !path.lowercased().hasSuffix(".gguf") else {
            return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        }
        return HuggingFaceCheckpoint.weightBytes(folder: URL(fileURLWithPath: path))
    }
}

/// A progress line per stage of a long evaluation (main text, each slice, each perturbation).
final class StageProgress {
    private var stage = "", bar: ProgressLine?

    func update(_ stage: String, _ done: Int, _ total: Int) {
        if stage != self.stage {
            bar?.finish()
            bar = ProgressLine(unit: stage)
            self.stage = stage
        }
        bar?.update(done, of: total)
    }

    func finish() { bar?.finish() }
}
