import Foundation
import SlimCore

/// The element types model files store, with the GGUF block formats.
public enum StoredKind: String, Sendable, CaseIterable {
    case f64, f32, f16, bf16, i64, i32, i16, i8, u8, bool
    case q8_0, q4_0, q4_1

    /// Bytes per element of the plain kinds; nil for block formats.
    public var elementBytes: Int? {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        case .q8_0, .q4_0, .q4_1: nil
        }
    }

    /// The quantized format of a GGUF block kind.
    public var quantFormat: QuantFormat? {
        switch self {
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        default: nil
        }
    }

    /// Bytes of a tensor of this kind and shape, or nil if the shape does not fit
    /// the kind (a block format needs rows that are whole blocks) or overflows.
    public func byteCount(shape: [Int]) -> Int? {
        var elements = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            elements = p
        }
        if let size = elementBytes {
            let (b, overflow) = elements.multipliedReportingOverflow(by: size)
            return overflow ? nil : b
        }
        guard let format = quantFormat, let blockBytes = format.ggufBlockBytes else { return nil }
        guard (shape.last ?? 0) % 32 == 0 else { return nil }
        return elements / 32 * blockBytes
    }
}

/// One tensor of a model file: where its bytes are and how to read them.
public struct StoredTensor: Sendable, Equatable {
    public let name: String
    public let kind: StoredKind
    /// Outermost first, as PyTorch writes shapes.
    public let shape: [Int]
    /// The tensor's bytes, absolute in the file.
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A model file whose tensors can be listed and read in place.
public protocol TensorFile: AnyObject, Sendable {
    var file: MappedFile { get }
    /// The tensors in file order.
    var tensors: [StoredTensor] { get }
    var format: String { get }
}

extension TensorFile {
    public var path: String { file.path }
    public var fileBytes: Int { file.count }

    public func tensor(named name: String) throws -> StoredTensor {
        guard let t = tensors.first(where: { $0.name == name }) else {
            throw SlimError.malformedFile(path: path, detail: "missing tensor '\(name)'")
        }
        return t
    }

    /// The tensor's bytes inside the mapping, no copy.
    public func bytes(of t: StoredTensor) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[t.byteRange])
    }

    /// The values as fp32: plain floats converted, GGUF blocks decoded.
    public func floats(_ t: StoredTensor) throws -> [Float] {
        let raw = bytes(of: t), n = t.elementCount
        switch t.kind {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { buffer, count in
                _ = UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                count = n
            }
        case .f16:
            return (0..<n).map { Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian)) }
        case .bf16:
            return (0..<n).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) << 16) }
        case .f64:
            return (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) }
        case .q8_0, .q4_0, .q4_1:
            let columns = t.shape.last ?? 0, rows = columns == 0 ? 0 : n / columns
            return try QuantCodec.decode(QuantCodec.Encoded(data: Array(raw)), rows: rows, columns: columns, format: t.kind.quantFormat!)
        default:
            throw SlimError.dtypeMismatch(op: "read \(path)", detail: "tensor '\(t.name)' holds \(t.kind) values, not floats")
        }
    }
}

/// A file's tensors as model weights, read by name.
public struct TensorFileWeights: WeightStore {
    public let file: any TensorFile
    public init(_ file: any TensorFile) { self.file = file }
    public var origin: String { file.path }
    public func contains(_ name: String) -> Bool { file.tensors.contains { $0.name == name } }
    public func shape(of name: String) throws -> [Int] { try file.tensor(named: name).shape }
    public func floats(_ name: String) throws -> [Float] { try file.floats(try file.tensor(named: name)) }
}
