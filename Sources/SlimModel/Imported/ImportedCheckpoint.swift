import Foundation
import SlimCore

/// Who quantized a Hugging Face folder, as its `config.json`
/// (`quantization_config.quant_method`) or a `quantize_config.json` beside it
/// (AutoGPTQ's) says: Slim itself, or another tool whose packed tensors Slim
/// repacks into its own layouts as they load (never expanded to fp32).
public enum CheckpointQuantization: String, Sendable {
    case none, slim, compressedTensors = "compressed-tensors", gptq, awq

    /// The kind of `folder`, and the quantization settings that describe it.
    public static func detect(folder: URL) throws -> (kind: CheckpointQuantization, settings: [String: Any], source: URL) {
        let configURL = folder.appendingPathComponent("config.json")
        let config = try JSONFile.object(at: configURL)
        if let q = config["quantization_config"] {
            guard let q = q as? [String: Any] else {
                throw SlimError.invalidConfig(path: configURL.path, key: "quantization_config", detail: "is not an object")
            }
            return (try kind(of: q, at: configURL, key: "quantization_config.quant_method"), q, configURL)
        }
        let autoGPTQ = folder.appendingPathComponent("quantize_config.json")
        if FileManager.default.fileExists(atPath: autoGPTQ.path) {
            let q = try JSONFile.object(at: autoGPTQ)
            // AutoGPTQ's own file names no method: it is GPTQ's by being there.
            return (q["quant_method"] == nil ? .gptq : try kind(of: q, at: autoGPTQ, key: "quant_method"), q, autoGPTQ)
        }
        return (.none, [:], configURL)
    }

    private static func kind(of q: [String: Any], at url: URL, key: String) throws -> CheckpointQuantization {
        let method = (q["quant_method"] as? String)?.lowercased()
        switch method {
        case "slim": return .slim
        case "compressed-tensors", "compressed_tensors": return .compressedTensors
        case "gptq": return .gptq
        case "awq": return .awq
        default:
            throw SlimError.invalidConfig(path: url.path, key: key,
                                          detail: "is \(method.map { "'\($0)'" } ?? "missing"); Slim reads slim, compressed-tensors, gptq and awq")
        }
    }

    /// The weights of a folder of this kind.
    public static func store(file: any TensorFile, folder: URL) throws -> any WeightStore {
        let (kind, settings, source) = try detect(folder: folder)
        switch kind {
        case .none, .slim: return try PackedWeightStore(file: file, config: folder.appendingPathComponent("config.json"))
        case .compressedTensors: return ImportedWeightStore(file: file, reader: try CompressedTensorsReader(settings, source: source))
        case .gptq: return ImportedWeightStore(file: file, reader: try GPTQReader(settings, source: source))
        case .awq: return ImportedWeightStore(file: file, reader: try AWQReader(settings, source: source))
        }
    }
}

/// One tool's way of packing a linear layer, read back into Slim's layouts.
public protocol ImportedFormatReader: Sendable {
    /// Whether the layer `prefix` (`model.layers.0.self_attn.q_proj`) is stored packed in `file`.
    func isPacked(_ prefix: String, in file: any TensorFile) -> Bool
    /// The layer's weight repacked into a ``QuantFormat``: the same levels, scales and zero points.
    /// Where the format groups permuted input columns (GPTQ's act-order `g_idx`), the columns
    /// come sorted into group order, as ``inputOrder(_:in:)`` lists them.
    func repack(_ prefix: String, in file: any TensorFile) throws -> PackedWeight
    /// Which input each column of the repacked weight reads; nil when they are in order.
    func inputOrder(_ prefix: String, in file: any TensorFile) throws -> [Int]?
}

extension ImportedFormatReader {
    public func inputOrder(_ prefix: String, in file: any TensorFile) throws -> [Int]? { nil }
}

/// The weights of a checkpoint another tool quantized: packed linears
/// repacked by its format's reader, every other tensor as stored.
public struct ImportedWeightStore: WeightStore {
    public let file: any TensorFile
    public let reader: any ImportedFormatReader

    public init(file: any TensorFile, reader: any ImportedFormatReader) { (self.file, self.reader) = (file, reader) }

    public var origin: String { file.path }

    /// `….weight` → the layer prefix, when that layer is packed.
    private func packedPrefix(_ name: String) -> String? {
        guard name.hasSuffix(".weight") else { return nil }
        let prefix = String(name.dropLast(".weight".count))
        return reader.isPacked(prefix, in: file) ? prefix : nil
    }

    public func contains(_ name: String) -> Bool { file.contains(name) || packedPrefix(name) != nil }

    public func shape(of name: String) throws -> [Int] {
        if let p = try packed(name) { return [p.rows, p.columns] }
        return try file.tensor(named: name).shape
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let prefix = packedPrefix(name) else { return try file.floats(try file.tensor(named: name)) }
        let p = try reader.repack(prefix, in: file)
        let sorted = try QuantCodec.decode(p.encoded, rows: p.rows, columns: p.columns, format: p.format)
        guard let order = try reader.inputOrder(prefix, in: file) else { return sorted }
        // Back to the checkpoint's column order.
        var w = sorted
        for r in 0..<p.rows { for (c, k) in order.enumerated() { w[r * p.columns + k] = sorted[r * p.columns + c] } }
        return w
    }

    public func packed(_ name: String) throws -> PackedWeight? {
        guard let prefix = packedPrefix(name) else { return nil }
        return try reader.repack(prefix, in: file)
    }

    public func inputOrder(_ name: String) throws -> [Int]? {
        guard let prefix = packedPrefix(name) else { return nil }
        return try reader.inputOrder(prefix, in: file)
    }
}

/// Reading the parts of an imported layer.
extension TensorFile {
    /// The 32-bit words of an int32 tensor of `shape`, checked.
    func int32Words(_ name: String, shape expected: [Int]) throws -> [UInt32] {
        let t = try tensor(named: name)
        guard t.kind == .i32, t.shape == expected else {
            throw SlimError.malformedFile(path: path, detail: "tensor '\(name)' is \(t.kind) \(t.shape), expected i32 \(expected)")
        }
        return try int64s(t).map { UInt32(truncatingIfNeeded: $0) }
    }

    /// A float tensor of `shape`, checked.
    func floats(_ name: String, shape expected: [Int]) throws -> [Float] {
        let t = try tensor(named: name)
        guard t.shape == expected else {
            throw SlimError.malformedFile(path: path, detail: "tensor '\(name)' is \(t.shape), expected \(expected)")
        }
        return try floats(t)
    }
}

/// The settings of a quantization config, read with the key named in errors.
struct QuantizationSettings {
    let values: [String: Any]
    let source: URL
    let prefix: String

    func int(_ key: String, default value: Int? = nil) throws -> Int {
        guard let v = values[key] else {
            if let value { return value }
            throw SlimError.invalidConfig(path: source.path, key: prefix + key, detail: "is missing")
        }
        guard let n = v as? Int, !(v is Bool) else { throw SlimError.invalidConfig(path: source.path, key: prefix + key, detail: "is \(v), not an integer") }
        return n
    }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let v = values[key], !(v is NSNull) else { return value }
        guard let b = v as? Bool else { throw SlimError.invalidConfig(path: source.path, key: prefix + key, detail: "is \(v), not true or false") }
        return b
    }

    func string(_ key: String) -> String? { values[key] as? String }

    func refuse(_ key: String, _ detail: String) -> SlimError {
        SlimError.invalidConfig(path: source.path, key: prefix + key, detail: detail)
    }
}

/// Slim's int4 group sizes.
let int4GroupSizes = [32, 64, 128]
