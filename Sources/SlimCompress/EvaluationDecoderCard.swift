import Foundation

extension DecoderEvaluationReport {
    /// This report as a model-card record: the headline figures, the per-slice table and the
    /// flagged slices, the robustness table, ECE before and after, the worst cases, two plots.
    public func record(kind: String) -> EvaluationRecord {
        let slug = EvaluationRecord.slug(kind), c = main.comparison
        var plots = ["\(slug)-reliability.svg": EvaluationPlots.reliability(original: calibrationOriginal, compressed: calibrationCompressed)]
        var md = String(format: "- Perplexity: original %.4f, compressed %.4f over %d positions\n", c.perplexityOriginal, c.perplexityCompressed, c.count)
        md += String(format: "- KL divergence: mean %.6f, p99 %.6f, max %.6f; top-1 agreement %.2f%%; mean Δp %+.3f%%\n",
                     c.klMean, c.klP99, c.klMax, c.top1Agreement * 100, c.deltaPMean * 100)
        md += String(format: "- Calibration (ECE, %d bins): original %.4f, compressed %.4f ![reliability](%@-reliability.svg)\n",
                     calibrationOriginal.bins.count, calibrationOriginal.expectedCalibrationError,
                     calibrationCompressed.expectedCalibrationError, slug)
        if !slices.isEmpty {
            md += "\n### Slices\n\n" + EvaluationSlices.flaggedLine(slices, measure: "mean KL") + "\n\n"
            md += "| slice | PPL original | PPL compressed | mean KL | top-1 agreement | flagged |\n|---|---|---|---|---|---|\n"
            for row in slices {
                if let skipped = row.skipped { md += "| \(row.name) | skipped: \(skipped) | | | | |\n"; continue }
                let f = row.figures
                md += String(format: "| %@ | %.4f | %.4f | %.6f | %.2f%% | %@ |\n", row.name, f["ppl_original"] ?? 0, f["ppl_compressed"] ?? 0,
                             f["kl_divergence_mean"] ?? 0, (f["top1_agreement"] ?? 0) * 100, row.flagged ? "yes" : "")
            }
            plots["\(slug)-slices.svg"] = EvaluationPlots.bars(title: "Mean KL divergence per slice",
                                                               rows: slices.compactMap { r in r.degradation.map { (r.name, $0, r.flagged) } })
            md += "\n![per-slice KL divergence](\(slug)-slices.svg)\n"
        }
        if !robustness.isEmpty {
            md += "\n### Robustness\n\n| perturbation | mean KL clean | mean KL perturbed | top-1 agreement clean | perturbed |\n|---|---|---|---|---|\n"
            for r in robustness {
                if let skipped = r.skipped { md += "| \(r.perturbation) | skipped: \(skipped) | | | |\n"; continue }
                md += String(format: "| %@ | %.6f | %.6f | %.2f%% | %.2f%% |\n", r.perturbation, r.clean["kl_divergence_mean"] ?? 0,
                             r.perturbed["kl_divergence_mean"] ?? 0, (r.clean["top1_agreement"] ?? 0) * 100, (r.perturbed["top1_agreement"] ?? 0) * 100)
            }
        }
        if !worst.isEmpty {
            md += "\n### Worst positions\n\n| context | next | original | compressed | KL |\n|---|---|---|---|---|\n"
            for w in worst {
                md += String(format: "| `%@` | `%@` | `%@` (%.2f) | `%@` (%.2f) | %.4f |\n", EvaluationRecord.cell(w.context), EvaluationRecord.cell(w.target),
                             EvaluationRecord.cell(w.top1Original), w.probabilityOriginal, EvaluationRecord.cell(w.top1Compressed), w.probabilityCompressed, w.kl)
            }
        }
        return EvaluationRecord(kind: kind, json: json, markdown: md, plots: plots)
    }

}
