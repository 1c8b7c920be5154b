import ArgumentParser
import Foundation
import SlimModel

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a model's architecture, configuration and tensors (reads headers only).")

    @Argument(help: "A model folder (config.json and model.safetensors, or shards and model.safetensors.index.json), a .safetensors file or a .gguf file.")
    var path: String
    @Flag(help: "Print a JSON object: format, architecture, config, parameter_count, file_bytes, weight_files, kinds, tensors.")
    var json = false

    func run() throws {
        let model = try ModelInspection.inspect(path: path)
        if json {
            try printJSON(Self.jsonObject(model))
        } else {
            print(Self.report(model))
        }
    }

    static func jsonObject(_ m: ModelInspection) -> [String: Any] {
        var object: [String: Any] = [
            "path": m.path, "weights_path": m.weightsPath, "format": m.format, "quantization": m.quantization, "architecture": m.architecture,
            "parameter_count": m.parameterCount, "file_bytes": m.fileBytes, "weight_files": m.weightFiles,
            "config": Dictionary(m.config.map { ($0.key, $0.value.json as Any) }) { first, _ in first },
            "kinds": m.kinds.map { ["dtype": $0.kind.rawValue, "tensors": $0.tensors, "parameters": $0.elements, "bytes": $0.bytes] },
            "tensors": m.tensors.map { ["name": $0.name, "dtype": $0.kind.rawValue, "shape": $0.shape, "bytes": $0.byteRange.count] },
        ]
        if let version = m.formatVersion { object["format_version"] = version }
        return object
    }

    static func report(_ m: ModelInspection) -> String {
        var lines = ["\(m.path): \(m.format)" + (m.formatVersion.map { " v\($0)" } ?? "")
                     + (m.weightFiles.count > 1 ? " in \(m.weightFiles.count) shards (\(m.weightsPath))" : ""), "architecture: \(m.architecture)", "quantization: \(m.quantization)"]
        let keyWidth = m.config.map(\.key.count).max() ?? 0
        lines += m.config.map { "  " + pad($0.key, keyWidth) + "  \($0.value)" }
        lines.append("tensors by kind:")
        lines += m.kinds.map {
            "  " + pad($0.kind.rawValue, 5) + String(format: " %5d tensors ", $0.tensors)
                + padLeft(grouped($0.elements), 13) + " parameters " + padLeft(grouped($0.bytes), 13) + " bytes"
                + String(format: " %6.2f bits each", $0.bitsPerElement)
        }
        let nameWidth = max(4, m.tensors.map(\.name.count).max() ?? 0)
        let shapes = m.tensors.map { "[" + $0.shape.map(String.init).joined(separator: ", ") + "]" }
        let shapeWidth = max(5, shapes.map(\.count).max() ?? 0)
        lines.append("tensors (\(m.tensors.count)):")
        lines.append("  " + pad("name", nameWidth) + "  " + pad("dtype", 5) + "  " + pad("shape", shapeWidth) + "  bytes")
        for (t, shape) in zip(m.tensors, shapes) {
            lines.append("  " + pad(t.name, nameWidth) + "  " + pad(t.kind.rawValue, 5) + "  " + pad(shape, shapeWidth) + "  " + grouped(t.byteRange.count))
        }
        lines.append("parameters: \(grouped(m.parameterCount))")
        lines.append("file size: \(grouped(m.fileBytes)) bytes" + String(format: " (%.1f MiB)", Double(m.fileBytes) / 1_048_576))
        return lines.joined(separator: "\n")
    }

    static func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
    static func padLeft(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

    /// 134515008 → "134,515,008".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        let groups = stride(from: digits.count, to: 0, by: -3).map { end in
            String(digits[digits.index(digits.startIndex, offsetBy: max(0, end - 3))..<digits.index(digits.startIndex, offsetBy: end)])
        }
        return (n < 0 ? "-" : "") + groups.reversed().joined(separator: ",")
    }
}
