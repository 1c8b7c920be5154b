import ArgumentParser
import Foundation
import SlimCompress
import SlimCore
import SlimModel

extension EvalCommand {
    /// Both encoders on the same texts: the cosine of the compressed model's embeddings to the
    /// original's, Lee similarity Spearman; with --slices the same per slice (flagged by the rule of
    /// ``EvaluationSlices``), with --robustness per perturbation, and the texts that differ most.
    /// Recorded in the compressed folder's card.
    func evaluateEncoders() throws {
        // An encoder embeds its texts in batches padded to the longest: texts split over ranks would be
        // batched otherwise and give other bits than one process, so encoders are evaluated whole.
        guard Job.collective.size == 1, devicesOption.devices == nil else {
            throw SlimError.unsupported(op: "slim eval of an encoder over several ranks or devices", backend: "parallel",
                                        reason: "only decoders split their chunks; run it as one process without --devices")
        }
        let backend = try backendOption.open()
        let a = try SentenceEmbedder.load(folder: URL(fileURLWithPath: original), backend: backend)
        let b = try SentenceEmbedder.load(folder: URL(fileURLWithPath: compressed), backend: backend)
        let lee = try? Evaluation.LeeBenchmark(folder: Evaluation.leeFolder)
        guard let texts = try data.map(TextInput.lines(ofFile:)) ?? lee?.documents, !texts.isEmpty else {
            throw ValidationError("no held-out texts: pass --data FILE (the Lee corpus was not found; run scripts/setup.sh)")
        }
        let file = data ?? Evaluation.leeFolder.appendingPathComponent("lee.cor").path
        var evaluator = EncoderEvaluator(original: a, compressed: b)
        evaluator.lee = lee
        evaluator.slices = slices.map(SliceChoice.init(parsing:))
        evaluator.maxPerSlice = maxPerSlice
        evaluator.perturbations = robustness ? Perturbation.allCases : []
        evaluator.seed = seed
        evaluator.worstCount = worst
        (evaluator.bytesOriginal, evaluator.bytesCompressed) = (Self.weightBytes(original), Self.weightBytes(compressed))
        let progress = StageProgress()
        let report = try evaluator.run(texts: texts) { progress.update($0, $1, $2) }
        progress.finish()
        var o = report.json
        o["data"] = file
        let recorded = try recordInCard(report.record(kind: cardKind(file)), data: file)
        if json { try printJSON(o); return }
        let r = report.main
        print(String(format: "cosine to the original over %d texts: mean %.5f, min %.5f", r.texts, r.meanCosine, r.minCosine))
        if let so = r.spearmanOriginal, let sc = r.spearmanCompressed {
            print(String(format: "Lee similarity Spearman: original %.4f, compressed %.4f", so, sc))
        }
        for row in report.slices {
            if let skipped = row.skipped { print("slice \(row.name): skipped (\(skipped))"); continue }
            print(String(format: "slice %@: %d texts, cosine mean %.5f, worst %.5f%@", row.name, Int(row.figures["texts"] ?? 0),
                         row.figures["mean_cosine"] ?? 0, row.figures["min_cosine"] ?? 0, row.flagged ? "  FLAGGED" : ""))
        }
        for p in report.robustness {
            print(String(format: "%@: cosine mean %.5f → %.5f, worst %.5f → %.5f (clean → perturbed)", p.perturbation, p.clean["mean_cosine"] ?? 0,
                         p.perturbed["mean_cosine"] ?? 0, p.clean["min_cosine"] ?? 0, p.perturbed["min_cosine"] ?? 0))
        }
        for w in report.worst {
            print(String(format: "worst cosine %.5f (%@, norm %.3f → %.3f): %@", w.cosine, w.source, w.normOriginal, w.normCompressed,
                         String(w.text.prefix(80)).debugDescription))
        }
        print(String(format: "size: %d → %d bytes (%.3fx); speed: %.1f → %.1f texts/s", r.bytesOriginal, r.bytesCompressed,
                     Double(r.bytesCompressed) / Double(max(r.bytesOriginal, 1)), r.textsPerSecondOriginal, r.textsPerSecondCompressed))
        if let recorded { print("recorded in \(recorded)") }
    }
}
