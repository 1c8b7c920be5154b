import Foundation
import SlimCore

/// A weight stored compressed: the quantized bytes, scales and zero points
/// of one `[rows, columns]` matrix, as QuantCodec lays them out.
public struct PackedWeight: Sendable {
    public let format: QuantFormat
    public let rows: Int, columns: Int
    public let encoded: QuantCodec.Encoded

    public init(format: QuantFormat, rows: Int, columns: Int, encoded: QuantCodec.Encoded) {
        (self.format, self.rows, self.columns, self.encoded) = (format, rows, columns, encoded)
    }
}

/// How a compressed folder names a packed weight's parts in its safetensors file.
public enum PackedNames {
    public static func data(_ weight: String) -> String { weight + ".qdata" }
    public static func scales(_ weight: String) -> String { weight + ".scales" }
    public static func zeros(_ weight: String) -> String { weight + ".zeros" }
    /// AWQ: per-input multipliers applied to the activations before the product.
    public static func inputScale(_ weight: String) -> String { weight + ".input_scale" }
    /// Low-rank factors: W ≈ A·B.
    public static func factorA(_ weight: String) -> String { weight + ".lowrank_a" }
    public static func factorB(_ weight: String) -> String { weight + ".lowrank_b" }
}

extension WeightStore {
    public func packed(_ name: String) throws -> PackedWeight? { nil }
    public func factors(_ name: String) throws -> (a: [Float], b: [Float], rank: Int)? { nil }
    public func inputScale(_ name: String) throws -> [Float]? { nil }
    public func packedFactors(_ name: String) throws -> (a: PackedWeight, b: PackedWeight)? { nil }
    public func inputOrder(_ name: String) throws -> [Int]? { nil }
}

/// The weights of a compressed folder: packed tensors for the layers its
/// `config.json` `quantization_config.layers` names, plain tensors for the rest.
public struct PackedWeightStore: WeightStore {
    public let file: any TensorFile
    /// Weight name (`….weight`) → format.
    public let formats: [String: QuantFormat]

    public init(file: any TensorFile, config url: URL) throws {
        self.file = file
        let o = try JSONFile.object(at: url)
        guard let q = o["quantization_config"] as? [String: Any], let layers = q["layers"] as? [String: String] else {
            formats = [:]
            return
        }
        var map: [String: QuantFormat] = [:]
        for (name, format) in layers {
            do { map[name] = try QuantFormat(parsing: format) } catch {
                throw SlimError.malformedFile(path: url.path, detail: "quantization_config layer '\(name)': unknown format '\(format)'")
            }
        }
        formats = map
    }

    public var origin: String { file.path }
    public func contains(_ name: String) -> Bool {
        formats[name] != nil || formats[PackedNames.factorA(name)] != nil
            || file.contains(name) || file.contains(PackedNames.factorA(name))
    }

    public func packedFactors(_ name: String) throws -> (a: PackedWeight, b: PackedWeight)? {
        guard formats[PackedNames.factorA(name)] != nil else { return nil }
        guard let a = try packed(PackedNames.factorA(name)), let b = try packed(PackedNames.factorB(name)) else {
            throw SlimError.malformedFile(path: file.path, detail: "'\(name)' has a packed factor A but no packed factor B")
        }
        return (a, b)
    }

    public func inputScale(_ name: String) throws -> [Float]? {
        try file.tensorsByName[PackedNames.inputScale(name)].map { try file.floats($0) }
    }

    public func factors(_ name: String) throws -> (a: [Float], b: [Float], rank: Int)? {
        guard let a = file.tensorsByName[PackedNames.factorA(name)] else { return nil }
        let b = try file.tensor(named: PackedNames.factorB(name))
        guard a.shape.count == 2, b.shape.count == 2, a.shape[1] == b.shape[0] else {
            throw SlimError.malformedFile(path: file.path, detail: "low-rank factors of '\(name)' are \(a.shape) and \(b.shape)")
        }
        return (try file.floats(a), try file.floats(b), a.shape[1])
    }
    public func shape(of name: String) throws -> [Int] {
        if let p = try packed(name) { return [p.rows, p.columns] }
        if let (a, b) = try packedFactors(name) { return [a.rows, b.columns] }
        if let a = file.tensorsByName[PackedNames.factorA(name)], let b = file.tensorsByName[PackedNames.factorB(name)] { return [a.shape[0], b.shape.last ?? 0] }
        return try file.tensor(named: name).shape
    }
    public func floats(_ name: String) throws -> [Float] {
        if let p = try packed(name) { return try QuantCodec.decode(p.encoded, rows: p.rows, columns: p.columns, format: p.format) }
        if try packedFactors(name) != nil {
            throw SlimError.unsupported(op: "read '\(name)' as fp32", backend: "model", reason: "it is stored as packed low-rank factors")
        }
        return try file.floats(try file.tensor(named: name))
    }

    public func packed(_ name: String) throws -> PackedWeight? {
        guard let format = formats[name] else { return nil }
        let data = try file.tensor(named: PackedNames.data(name))
        guard data.shape.count == 2 else {
            throw SlimError.malformedFile(path: file.path, detail: "packed tensor '\(data.name)' must be [rows, bytes per row]")
        }
        let (rows, rowBytes) = (data.shape[0], data.shape[1])
        // The row length follows from the bytes per row of the format.
        let columns = switch format {
        case .int8PerChannel: rowBytes
        case .int4: rowBytes * 2
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K: rowBytes / format.ggufBlockBytes! * format.ggufBlockWeights!
        case .bf16, .f16: rowBytes / 2
        }
        let scales = try file.tensorsByName[PackedNames.scales(name)].map { try file.floats($0) } ?? []
        let zeros = try file.tensorsByName[PackedNames.zeros(name)].map { Array(try file.bytes(of: $0)) } ?? []
        let groups: Int? = switch format {
        case .int8PerChannel: rows
        case let .int4(g, _): rows * columns / max(g, 1)
        default: nil
        }
        let symmetric = if case let .int4(_, sym) = format { sym } else { true }
        guard data.kind == .u8, scales.count == (groups ?? 0), zeros.count == (symmetric ? 0 : groups ?? 0),
              (try? format.validate(rows: rows, columns: columns)) != nil else {
            throw SlimError.malformedFile(path: file.path, detail: "packed \(format) weight '\(name)': \(rows)x\(rowBytes) u8 data with \(scales.count) scales and \(zeros.count) zero points do not fit the format")
        }
        let encoded = QuantCodec.Encoded(data: Array(try file.bytes(of: data)), scales: scales, zeros: zeros)
        // fp32 scales were checked as they were read; GGUF blocks carry theirs inside.
        if let block = QuantCodec.firstNonFiniteBlock(encoded.data, format: format) {
            try NonFiniteWeights.refuse(tensor: data.name, origin: file.path, finding: "a non-finite fp16 scale in block \(block)")
        }
        return PackedWeight(format: format, rows: rows, columns: columns, encoded: encoded)
    }
}
