import Foundation

extension EncoderEvaluationReport {
    /// This report as a model-card record: the headline figures, the per-slice table and the
    /// flagged slices with a plot of their degradation, the robustness table, the worst texts,
    /// and why calibration is absent.
    public func record(kind: String) -> EvaluationRecord {
        let slug = EvaluationRecord.slug(kind)
        var plots: [String: String] = [:]
        var md = String(format: "- Cosine to the original's embeddings over %d texts: mean %.5f, worst %.5f\n", main.texts, main.meanCosine, main.minCosine)
        if let a = main.spearmanOriginal, let b = main.spearmanCompressed {
            md += String(format: "- Lee document similarity, Spearman with human ratings: original %.4f, compressed %.4f\n", a, b)
        }
        md += "- Calibration: \(Self.calibrationNote)\n"
        if !slices.isEmpty {
            md += "\n### Slices\n\n" + EvaluationSlices.flaggedLine(slices, measure: "1 − mean cosine") + "\n\n"
            md += "| slice | texts | mean cosine | worst cosine | 1 − mean cosine | flagged |\n|---|---|---|---|---|---|\n"
            for row in slices {
                if let skipped = row.skipped { md += "| \(row.name) | skipped: \(skipped) | | | | |\n"; continue }
                let f = row.figures
                md += String(format: "| %@ | %d of %d | %.5f | %.5f | %.5f | %@ |\n", row.name, Int(f["texts"] ?? 0), Int(f["texts_in_slice"] ?? 0),
                             f["mean_cosine"] ?? 0, f["min_cosine"] ?? 0, row.degradation ?? 0, row.flagged ? "yes" : "")
            }
            plots["\(slug)-slices.svg"] = EvaluationPlots.bars(title: "1 − mean cosine to the original per slice",
                                                               rows: slices.compactMap { r in r.degradation.map { (r.name, $0, r.flagged) } })
            md += "\n![per-slice degradation](\(slug)-slices.svg)\n"
        }
        if !robustness.isEmpty {
            md += "\n### Robustness\n\nCosine of the compressed model's embedding to the original's on clean and on perturbed text; "
                + "the last column is how far the perturbation moves the original's own embedding.\n\n"
            md += "| perturbation | mean cosine clean | mean cosine perturbed | worst clean | worst perturbed | original: perturbed vs clean |\n|---|---|---|---|---|---|\n"
            for r in robustness {
                if let skipped = r.skipped { md += "| \(r.perturbation) | skipped: \(skipped) | | | | |\n"; continue }
                md += String(format: "| %@ | %.5f | %.5f | %.5f | %.5f | %.5f |\n", r.perturbation, r.clean["mean_cosine"] ?? 0, r.perturbed["mean_cosine"] ?? 0,
                             r.clean["min_cosine"] ?? 0, r.perturbed["min_cosine"] ?? 0, r.perturbed["original_clean_cosine"] ?? 0)
            }
        }
        if !worst.isEmpty {
            md += "\n### Worst texts\n\n| text | from | cosine | norm original → compressed | nearest by the original | nearest by the compressed |\n|---|---|---|---|---|---|\n"
            for w in worst {
                md += String(format: "| `%@` | %@ | %.5f | %.3f → %.3f | `%@` | `%@` |\n", EvaluationRecord.cell(w.text, limit: 120), w.source, w.cosine,
                             w.normOriginal, w.normCompressed, EvaluationRecord.cell(w.nearestOriginal ?? "", limit: 60),
                             EvaluationRecord.cell(w.nearestCompressed ?? "", limit: 60))
            }
        }
        return EvaluationRecord(kind: kind, json: json, markdown: md, plots: plots)
    }
}
