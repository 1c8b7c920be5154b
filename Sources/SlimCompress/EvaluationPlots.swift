import Foundation

/// Small self-contained SVG plots for the model card: no fonts or scripts
/// fetched, readable in a browser or a Markdown viewer.
public enum EvaluationPlots {
    /// Horizontal bars, one per slice, flagged ones in red.
    public static func bars(title: String, rows: [(name: String, value: Double, flagged: Bool)]) -> String {
        let width = 640.0, label = 180.0, barHeight = 18.0, top = 30.0
        let peak = max(rows.map(\.value).max() ?? 0, 1e-12)
        var svg = header(width: width, height: top + barHeight * Double(rows.count) + 10, title: title)
        for (i, row) in rows.enumerated() {
            let y = top + Double(i) * barHeight, w = (width - label - 90) * row.value / peak
            svg += "<text x=\"\(label - 6)\" y=\"\(f(y + 13))\" text-anchor=\"end\">\(escape(row.name))</text>\n"
            svg += "<rect x=\"\(label)\" y=\"\(f(y + 2))\" width=\"\(f(w))\" height=\"\(f(barHeight - 4))\" fill=\"\(row.flagged ? "#c0392b" : "#4a7ab5")\"/>\n"
            svg += "<text x=\"\(f(label + w + 4))\" y=\"\(f(y + 13))\">\(String(format: "%.4g", row.value))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// A reliability diagram: accuracy against mean confidence per bin for both models, and the diagonal.
    public static func reliability(original: ReliabilityBins, compressed: ReliabilityBins) -> String {
        let size = 320.0, pad = 40.0
        func point(_ x: Double, _ y: Double) -> String { "\(f(pad + x * size)),\(f(pad + size - y * size))" }
        var svg = header(width: size + 2 * pad, height: size + 2 * pad + 20,
                         title: String(format: "Reliability: ECE original %.4f, compressed %.4f",
                                       original.expectedCalibrationError, compressed.expectedCalibrationError))
        svg += "<rect x=\"\(f(pad))\" y=\"\(f(pad))\" width=\"\(f(size))\" height=\"\(f(size))\" fill=\"none\" stroke=\"#888\"/>\n"
        svg += "<polyline points=\"\(point(0, 0)) \(point(1, 1))\" stroke=\"#aaa\" stroke-dasharray=\"4\" fill=\"none\"/>\n"
        for (bins, colour) in [(original, "#4a7ab5"), (compressed, "#c0392b")] {
            let points = bins.bins.filter { $0.count > 0 }.map { point($0.meanConfidence, $0.accuracy) }
            svg += "<polyline points=\"\(points.joined(separator: " "))\" stroke=\"\(colour)\" fill=\"none\"/>\n"
            for p in points { svg += "<circle cx=\"\(p.split(separator: ",")[0])\" cy=\"\(p.split(separator: ",")[1])\" r=\"3\" fill=\"\(colour)\"/>\n" }
        }
        svg += "<text x=\"\(f(pad))\" y=\"\(f(size + 2 * pad + 8))\">x: confidence of the top-1 token · y: accuracy · "
        svg += "<tspan fill=\"#4a7ab5\">original</tspan> · <tspan fill=\"#c0392b\">compressed</tspan></text>\n"
        return svg + "</svg>\n"
    }

    private static func header(width: Double, height: Double, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
            + "<text x=\"8\" y=\"18\" font-weight=\"bold\">\(escape(title))</text>\n"
    }

    private static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
