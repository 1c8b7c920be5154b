import Foundation
import SlimCore
import SlimModel

/// Prunes a BERT folder's linear layers and writes a folder of the same
/// (dense) format: N:M and unstructured patterns zero the pruned weights;
/// `neurons:F` and `heads:F` remove whole MLP neurons or attention heads, so
/// the tensors shrink (StructuredPruning.swift). Any Slim command loads the
/// result, and `slim compress` can quantize it next (prune, then quantize).
public struct ModelPruner {
    public let pattern: PruningPattern
    public let method: PruningMethod
    /// Calibration (Wanda): texts and the backend that runs the original over them.
    public var calibration: (texts: [String], backend: any Backend, source: String)?
    /// The largest weights file written (transformers' `max_shard_size`): more weights go to several shards and an index.
    public var maxShardBytes = CheckpointWriter.defaultMaxShardBytes

    public init(pattern: PruningPattern, method: PruningMethod) {
        self.pattern = pattern
        self.method = method
    }

    public func prune(_ source: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                      progress: ((Int, Int, String) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        let claim = try CompressedFolder.claim(output, source: source, calibration: calibration?.source, overwrite: overwrite)
        defer { claim.release() }
        let model = try BertSource(source, step: "prune"), file = model.file
        switch pattern {
        case let .neurons(f):
            return try pruneStructured(.neurons, fraction: f, model: model, to: output, start: start, hashSource: hashSource, progress: progress)
        case let .heads(f):
            return try pruneStructured(.heads, fraction: f, model: model, to: output, start: start, hashSource: hashSource, progress: progress)
        case .unstructured, .nOfM: break
        }
        var norms: [String: [Double]] = [:]
        for (name, h) in try calibrationHessians(source) ?? [:] {
            let k = Int(Double(h.count).squareRoot())
            norms[name] = (0..<k).map { (max(h[$0 * k + $0], 0) / 2).squareRoot() }  // H = 2XᵀX: ‖X_j‖ = √(H_jj / 2)
        }
        var entries: [SafeTensorsWriter.Entry] = []
        var layers: [CompressionReport.Layer] = []
        for (index, t) in file.tensors.enumerated() {
            progress?(index, file.tensors.count, t.name)
            guard model.linears.contains(t.name), t.shape.count == 2, [.f32, .f16, .bf16].contains(t.kind) else {
                entries.append(try model.unchanged(t))
                continue
            }
            let original = try file.floats(t)
            var w = original
            try Pruner(pattern: pattern, method: method).prune(&w, rows: t.shape[0], columns: t.shape[1],
                                                              inputNorms: method == .wanda ? norms[Calibration.sharedInput(t.name)] : nil)
            layers.append(.init(name: t.name, format: pattern.description, relativeError: relativeError(original, w)))
            entries.append(.init(name: t.name, kind: .f32, shape: t.shape, data: w.withUnsafeBytes { Data($0) }))
        }
        let layerNames = layers.map(\.name)
        return try CompressedFolder.write(from: source, to: output, entries: entries, configKey: "sparsity_config",
                                          configValue: ["pattern": pattern.description, "method": method.rawValue,
                                                        "sparsity": pattern.sparsity, "layers": layerNames],
                                          maxShardBytes: maxShardBytes) { bytesAfter in
            CompressionReport(source: source.path, sourceSHA256: model.sha256(hashSource),
                              method: "prune-\(method.rawValue)", format: pattern.description, layers: layers,
                              bytesBefore: file.fileBytes, bytesAfter: bytesAfter, seconds: Date().timeIntervalSince(start),
                              calibration: method == .magnitude ? "none (magnitude needs no data)"
                                  : "\(calibration?.texts.count ?? 0) texts from \(calibration?.source ?? "?")")
        }
    }

    /// Wanda: H = 2XᵀX of every linear layer's input over the calibration texts,
    /// run through the source model; nil for magnitude pruning.
    func calibrationHessians(_ source: URL) throws -> [String: [Double]]? {
        guard method == .wanda else { return nil }
        guard let calibration else { throw SlimError.invalidArgument("Wanda needs calibration texts") }
        let original = try SentenceEmbedder.load(folder: source, backend: calibration.backend)
        return try Calibration.hessians(original, texts: calibration.texts)
    }

    /// The Hessian of `name`'s input, checked to be `[width, width]`.
    static func hessian(_ all: [String: [Double]], _ name: String, width: Int) throws -> [Double] {
        guard let h = all[name], h.count == width * width else {
            throw SlimError.invalidArgument("calibration gave no \(width)x\(width) input statistics for '\(name)'")
        }
        return h
    }
}
