import Foundation
import SlimCore
import SlimModel

/// Prunes a BERT folder's linear layers and writes a folder of the same
/// (dense) format with the pruned weights zeroed: any Slim command loads it,
/// and `slim compress` can quantize it next (prune, then quantize).
public struct ModelPruner {
    public let pattern: PruningPattern
    public let method: PruningMethod
    /// Calibration (Wanda): texts and the backend that runs the original over them.
    public var calibration: (texts: [String], backend: any Backend, source: String)?

    public init(pattern: PruningPattern, method: PruningMethod) {
        self.pattern = pattern
        self.method = method
    }

    public func prune(_ source: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                      progress: ((Int, Int, String) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        try CompressedFolder.checkOutput(output, overwrite: overwrite)
        let configURL = source.appendingPathComponent("config.json")
        if (try JSONFileObject.read(configURL))["quantization_config"] != nil {
            throw SlimError.invalidArgument("\(source.path) is quantized; prune the fp32 model, then quantize")
        }
        guard case let .bert(config) = try ModelConfig.load(configURL) else {
            throw SlimError.unsupported(op: "prune", backend: "model", reason: "\(source.path) is not a BERT encoder")
        }
        let file = try SafeTensorsFile(contentsOf: source.appendingPathComponent("model.safetensors"))
        let prefix = file.tensors.contains { $0.name.hasPrefix("bert.") } ? "bert." : ""
        let linears = Set(CompressionTargets.bertLinears(config, prefix: prefix))
        var norms: [String: [Double]] = [:]
        if method == .wanda {
            guard let calibration else { throw SlimError.invalidArgument("Wanda needs calibration texts") }
            let original = try SentenceEmbedder.load(folder: source, backend: calibration.backend)
            for (name, h) in try Calibration.hessians(original, texts: calibration.texts) {
                let k = Int(Double(h.count).squareRoot())
                norms[name] = (0..<k).map { (max(h[$0 * k + $0], 0) / 2).squareRoot() }  // H = 2XᵀX: ‖X_j‖ = √(H_jj / 2)
            }
        }
        var entries: [SafeTensorsWriter.Entry] = []
        var layers: [CompressionReport.Layer] = []
        for (index, t) in file.tensors.enumerated() {
            progress?(index, file.tensors.count, t.name)
            guard linears.contains(t.name), t.shape.count == 2, t.kind == .f32 || t.kind == .f16 || t.kind == .bf16 else {
                entries.append(.init(name: t.name, kind: t.kind, shape: t.shape, data: Data(file.bytes(of: t))))
                continue
            }
            let original = try file.floats(t)
            var w = original
            try Pruner(pattern: pattern, method: method).prune(&w, rows: t.shape[0], columns: t.shape[1],
                                                              inputNorms: norms[Calibration.sharedInput(t.name)])
            layers.append(.init(name: t.name, format: pattern.description, relativeError: relativeError(original, w)))
            entries.append(.init(name: t.name, kind: .f32, shape: t.shape, data: w.withUnsafeBytes { Data($0) }))
        }
        let layerNames = layers.map(\.name)
        return try CompressedFolder.write(from: source, to: output, entries: entries, configKey: "sparsity_config",
                                          configValue: ["pattern": pattern.description, "method": method.rawValue,
                                                        "sparsity": pattern.sparsity, "layers": layerNames]) { bytesAfter in
            CompressionReport(source: source.path, sourceSHA256: hashSource ? SHA256.hex(file.file.bytes) : "not computed",
                              method: "prune-\(method.rawValue)", format: pattern.description, layers: layers,
                              bytesBefore: file.fileBytes, bytesAfter: bytesAfter, seconds: Date().timeIntervalSince(start),
                              calibration: method == .magnitude ? "none (magnitude needs no data)"
                                  : "\(calibration?.texts.count ?? 0) texts from \(calibration?.source ?? "?")")
        }
    }
}
