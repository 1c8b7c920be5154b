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
        let model = try BertSource(source, step: "prune"), file = model.file
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
            guard model.linears.contains(t.name), t.shape.count == 2, [.f32, .f16, .bf16].contains(t.kind) else {
                entries.append(model.unchanged(t))
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
            CompressionReport(source: source.path, sourceSHA256: model.sha256(hashSource),
                              method: "prune-\(method.rawValue)", format: pattern.description, layers: layers,
                              bytesBefore: file.fileBytes, bytesAfter: bytesAfter, seconds: Date().timeIntervalSince(start),
                              calibration: method == .magnitude ? "none (magnitude needs no data)"
                                  : "\(calibration?.texts.count ?? 0) texts from \(calibration?.source ?? "?")")
        }
    }
}
