import Foundation
import SlimCore

/// `MODEL_CARD.md` and `model_card.json`: what was done to the model and what
/// it cost, written beside the weights.
public struct ModelCard {
    public let report: CompressionReport
    /// Evaluation figures, when `slim eval` has been run (name → value).
    public var evaluation: [String: Double] = [:]
    /// The cards of the steps that produced the source (prune, then quantize).
    public var history: [[String: Any]] = []

    public init(report: CompressionReport) { self.report = report }

    public var json: [String: Any] {
        var o: [String: Any] = [
            "source_model": report.source, "source_sha256": report.sourceSHA256, "method": report.method,
            "format": report.format, "bytes_before": report.bytesBefore, "bytes_after": report.bytesAfter,
            "size_ratio": Double(report.bytesAfter) / Double(max(report.bytesBefore, 1)), "seconds": report.seconds,
            "peak_resident_bytes": report.peakResidentBytes, "calibration": report.calibration,
            "layers": report.layers.map { ["name": $0.name, "format": $0.format, "relative_error": $0.relativeError] },
            "evaluation": evaluation, "slim_version": "0.1.0", "history": history,
        ]
        o["search"] = report.search?.json
        return o
    }

    public var markdown: String {
        let worst = report.layers.max { $0.relativeError < $1.relativeError }
        let mean = report.layers.isEmpty ? 0 : report.layers.map(\.relativeError).reduce(0, +) / Double(report.layers.count)
        var md = """
        # Compressed with Slim

        - Source: `\(report.source)` (model.safetensors sha256 `\(report.sourceSHA256)`)
        - Method: \(report.method), \(report.format)\(report.search != nil ? " (each layer's choice below)" : " for the linear layers")\(report.search != nil ? "" : report.method.hasPrefix("prune") ? "; everything else unchanged" : "; " + (report.others ?? "word embeddings int8 per row; norms, biases and position embeddings fp32"))
        - Size: \(report.bytesBefore) → \(report.bytesAfter) bytes (\(String(format: "%.3f", Double(report.bytesAfter) / Double(max(report.bytesBefore, 1))))x)
        - Calibration: \(report.calibration)
        - Time: \(String(format: "%.1f", report.seconds)) s, peak resident memory \(String(format: "%.2f", Double(report.peakResidentBytes) / 1e9)) GB
        - Weight reconstruction error ‖W − Ŵ‖/‖W‖: mean \(String(format: "%.4f", mean)), worst \(String(format: "%.4f", worst?.relativeError ?? 0)) (\(worst?.name ?? "-"))

        """
        for step in history {
            md += "- Earlier step: \(step["method"] ?? "?") \(step["format"] ?? "") on `\(step["source_model"] ?? "?")`\n"
        }
        if !evaluation.isEmpty {
            md += "\n## Evaluation\n\n" + evaluation.keys.sorted().map { "- \($0): \(String(format: "%.5f", evaluation[$0]!))" }.joined(separator: "\n") + "\n"
        }
        md += report.search?.markdown ?? ""
        md += "\n## Layers\n\n| layer | format | relative error |\n|---|---|---|\n"
        md += report.layers.map { "| \($0.name) | \($0.format) | \(String(format: "%.5f", $0.relativeError)) |" }.joined(separator: "\n") + "\n"
        return md
    }

    /// Writes both files into `folder` (each atomically).
    public func write(to folder: URL) throws {
        try writeAtomically(Data(markdown.utf8), to: folder.appendingPathComponent("MODEL_CARD.md"))
        try writeAtomically(try JSONOutput.data(json), to: folder.appendingPathComponent("model_card.json"))
    }
}
