import ArgumentParser
import Foundation
import SlimCore

/// `--roofline FILE.svg` of the bench commands: the kernels just measured on
/// the present device and the predicted points of the GPUs in the roofline
/// model's data (docs/roofline/predictions.json, made by
/// scripts/roofline_model.py), each against its roofs, on log-log axes of
/// arithmetic intensity (flop per byte) and GFLOP/s. Written to a temporary
/// file beside FILE and renamed over it.
struct RooflineOptions: ParsableArguments {
    @Option(help: "Also draw a roofline SVG here: the measured kernels and the model's predicted GPU points.")
    var roofline: String?
    @Option(help: "The roofline model's predictions (scripts/roofline_model.py --json).")
    var rooflinePredictions = "docs/roofline/predictions.json"
    @Option(help: "The GPUs' peaks the predictions were made for.")
    var rooflineGPUs = "docs/roofline/gpus.json"

    /// Draws `records` (bench records with gflops, gbps, peak_gflops) if --roofline was given.
    func draw(_ records: [[String: Any]]) throws {
        guard let path = roofline else { return }
        func json(_ p: String) throws -> [String: Any] {
            let data = try withFileErrors("read", path: p) { try Data(contentsOf: URL(fileURLWithPath: p)) }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw SlimError.invalidArgument("\(p) is not a JSON object (make it with scripts/roofline_model.py --json)")
            }
            return object
        }
        guard let gpus = try json(rooflineGPUs)["gpus"] as? [String: [String: Any]],
              let kernels = try json(rooflinePredictions)["kernels"] as? [[String: Any]] else {
            throw SlimError.invalidArgument("\(rooflineGPUs) lacks \"gpus\" or \(rooflinePredictions) lacks \"kernels\"")
        }
        var plot = RooflinePlot()
        for (name, g) in gpus.sorted(by: { $0.key < $1.key }) {
            guard let bw = g["hbm_gbps"] as? Double, let peak = g["fp32_gflops"] as? Double else {
                throw SlimError.invalidArgument("\(rooflineGPUs): GPU \(name) lacks hbm_gbps or fp32_gflops")
            }
            plot.roofs.append((name, bw, peak))
        }
        for k in kernels {
            guard let flops = k["flops"] as? Double, let bytes = k["bytes"] as? Double, let name = k["name"] as? String,
                  let predictions = k["predictions"] as? [String: [String: Any]] else {
                throw SlimError.invalidArgument("\(rooflinePredictions): a kernel lacks name, flops, bytes or predictions")
            }
            for (gpu, p) in predictions.sorted(by: { $0.key < $1.key }) {
                guard let us = p["predicted_us"] as? Double, us > 0 else { continue }
                plot.points.append((label: "\(name) (\(gpu), predicted)", series: gpu, intensity: flops / bytes, gflops: flops / us / 1e3))
            }
        }
        for r in records {
            guard let gflops = r["gflops"] as? Double, let gbps = r["gbps"] as? Double, gbps > 0 else { continue }
            let device = "\(r["device"] ?? "")"
            plot.points.append((label: "\(r["op"] ?? "") \(r["shape"] ?? "") (\(device), measured)", series: "measured",
                                intensity: gflops / gbps, gflops: gflops))
            if let peak = r["peak_gflops"] as? Double, !plot.roofs.contains(where: { $0.name == device }) {
                plot.roofs.append((device, nil, peak))
            }
        }
        try writeAtomically(Data(plot.svg().utf8), to: URL(fileURLWithPath: path))
    }
}

/// A log-log roofline chart as a self-contained SVG.
struct RooflinePlot {
    /// A device's memory roof (GB/s, nil when not known) and compute roof (GFLOP/s).
    var roofs: [(name: String, gbps: Double?, gflops: Double)] = []
    var points: [(label: String, series: String, intensity: Double, gflops: Double)] = []

    private let colours = ["#4a7ab5", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#2c3e50"]
    private let width = 760.0, height = 480.0, pad = 60.0
    private let xMin = 0.01, xMax = 10_000.0

    func svg() -> String {
        let yMax = pow(10, ceil(log10(max(roofs.map(\.gflops).max() ?? 1, points.map(\.gflops).max() ?? 1) * 1.5)))
        let yMin = pow(10, floor(log10(max(min(points.map(\.gflops).min() ?? 1, 1), 1e-3))))
        func x(_ v: Double) -> Double { pad + (log10(v) - log10(xMin)) / (log10(xMax) - log10(xMin)) * (width - 2 * pad) }
        func y(_ v: Double) -> Double { height - pad - (log10(v) - log10(yMin)) / (log10(yMax) - log10(yMin)) * (height - 2 * pad) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height + 16 * Double(points.count + roofs.count)))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        out += "<text x=\"\(f(pad))\" y=\"20\" font-size=\"14\">Roofline: measured kernels and predicted GPU points</text>\n"
        out += "<rect x=\"\(f(pad))\" y=\"\(f(pad))\" width=\"\(f(width - 2 * pad))\" height=\"\(f(height - 2 * pad))\" fill=\"none\" stroke=\"#888\"/>\n"
        var decade = xMin
        while decade <= xMax {
            out += "<text x=\"\(f(x(decade)))\" y=\"\(f(height - pad + 14))\" text-anchor=\"middle\">\(String(format: "%g", decade))</text>\n"
            decade *= 10
        }
        decade = yMin
        while decade <= yMax {
            out += "<text x=\"\(f(pad - 4))\" y=\"\(f(y(decade) + 4))\" text-anchor=\"end\">\(String(format: "%g", decade))</text>\n"
            decade *= 10
        }
        out += "<text x=\"\(f(width / 2))\" y=\"\(f(height - pad + 30))\" text-anchor=\"middle\">arithmetic intensity (flop / byte)</text>\n"
        out += "<text x=\"14\" y=\"\(f(height / 2))\" transform=\"rotate(-90 14 \(f(height / 2)))\" text-anchor=\"middle\">GFLOP/s</text>\n"
        let series = roofs.map(\.name) + ["measured"]
        func colour(_ s: String) -> String { colours[(series.firstIndex(of: s) ?? 0) % colours.count] }
        for roof in roofs {
            // The memory roof rises with intensity until it meets the compute roof.
            let knee = roof.gbps.map { roof.gflops / $0 } ?? xMin
            var line = "\(f(x(max(knee, xMin)))),\(f(y(roof.gflops))) \(f(x(xMax))),\(f(y(roof.gflops)))"
            if let bw = roof.gbps { line = "\(f(x(xMin))),\(f(y(max(bw * xMin, yMin)))) " + line }
            out += "<polyline points=\"\(line)\" fill=\"none\" stroke=\"\(colour(roof.name))\" stroke-width=\"1.5\"/>\n"
        }
        var legend = height
        for (i, p) in points.enumerated() {
            let c = p.series == "measured" ? colour("measured") : colour(p.series)
            out += "<circle cx=\"\(f(x(min(max(p.intensity, xMin), xMax))))\" cy=\"\(f(y(max(p.gflops, yMin))))\" r=\"4\" fill=\"\(c)\"/>\n"
            out += "<text x=\"\(f(x(min(max(p.intensity, xMin), xMax)) + 6))\" y=\"\(f(y(max(p.gflops, yMin)) - 4))\" fill=\"\(c)\">\(i + 1)</text>\n"
            legend += 16
            out += "<text x=\"\(f(pad))\" y=\"\(f(legend))\" fill=\"\(c)\">\(i + 1): \(escape(p.label)), \(String(format: "%.4g", p.gflops)) GFLOP/s at \(String(format: "%.3g", p.intensity)) flop/B</text>\n"
        }
        for roof in roofs {
            legend += 16
            out += "<text x=\"\(f(pad))\" y=\"\(f(legend))\" fill=\"\(colour(roof.name))\">roof \(escape(roof.name)): \(String(format: "%.4g", roof.gflops)) GFLOP/s"
                + (roof.gbps.map { String(format: ", %.4g GB/s", $0) } ?? ", memory roof not known") + "</text>\n"
        }
        return out + "</svg>\n"
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
