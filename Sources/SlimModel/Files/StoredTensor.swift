import Foundation
import SlimCore

/// The element types model files store, with the GGUF block formats.
public enum StoredKind: String, Sendable, CaseIterable {
    case f64, f32, f16, bf16, i64, i32, i16, i8, u8, bool
    case q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q6_K

    /// Bytes per element of the plain kinds; nil for block formats.
    public var elementBytes: Int? {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K: nil
        }
    }

    /// The SlimCore element type with the same bytes, if there is one.
    public var dtype: DType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .i64: .i64
        case .i32: .i32
        case .i8: .i8
        case .u8: .u8
        case .f64, .i16, .bool, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K: nil
        }
    }

    /// Whether ``TensorFile/floats(_:)`` reads it: floats of any width and GGUF blocks.
    public var holdsFloats: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K: true
        case .i64, .i32, .i16, .i8, .u8, .bool: false
        }
    }

    /// The quantized format of a GGUF block kind.
    public var quantFormat: QuantFormat? {
        switch self {
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        case .q5_0: .q5_0
        case .q5_1: .q5_1
        case .q4_K: .q4_K
        case .q6_K: .q6_K
        default: nil
        }
    }

    /// Bytes of a tensor of this kind and shape, or nil if the shape does not fit
    /// the kind (a block format needs rows that are whole blocks) or overflows.
    public func byteCount(shape: [Int]) -> Int? {
        guard let elements = CheckedSize.product(shape) else { return nil }
        if let size = elementBytes { return CheckedSize.product([elements, size]) }
        guard let format = quantFormat, let blockBytes = format.ggufBlockBytes, let weights = format.ggufBlockWeights else { return nil }
        // A scalar is a row of one weight, not a whole block.
        guard (shape.last ?? 1) % weights == 0 else { return nil }
        return elements / weights * blockBytes
    }
}

/// One tensor of a model file: where its bytes are and how to read them.
public struct StoredTensor: Sendable, Equatable {
    public let name: String
    public let kind: StoredKind
    /// Outermost first, as PyTorch writes shapes.
    public let shape: [Int]
    /// The tensor's bytes, absolute in the file that holds them.
    public let byteRange: Range<Int>
    /// Which of ``TensorFile/shards`` holds the bytes: 0 but in a sharded checkpoint.
    public let shard: Int

    public init(name: String, kind: StoredKind, shape: [Int], byteRange: Range<Int>, shard: Int = 0) {
        self.name = name; self.kind = kind; self.shape = shape; self.byteRange = byteRange; self.shard = shard
    }

    /// Both readers check that this product does not overflow before they list a tensor.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A model's tensors, listed and read in place: one file (safetensors, GGUF)
/// or a sharded checkpoint's files (``ShardedSafeTensorsFile``).
public protocol TensorFile: AnyObject, Sendable {
    /// The file, or for a sharded checkpoint its index.
    var path: String { get }
    /// The mapped files that hold the tensors (``StoredTensor/shard`` indexes them).
    var shards: [MappedFile] { get }
    /// The tensors in file order (shard by shard).
    var tensors: [StoredTensor] { get }
    /// The same tensors by name: checkpoints hold thousands, read by name one at a time.
    var tensorsByName: [String: StoredTensor] { get }
    var format: String { get }
    /// Throws if `t`'s bytes differ from what the file records for them (a
    /// checksum); a file that records nothing accepts every tensor.
    func verify(_ t: StoredTensor) throws
}

extension TensorFile {
    public var url: URL { URL(fileURLWithPath: path) }
    /// The bytes of every file the tensors are in.
    public var fileBytes: Int { shards.reduce(0) { $0 + $1.count } }

    /// Tensors by name, for a file's initializer (a name listed twice was refused before).
    static func byName(_ tensors: [StoredTensor]) -> [String: StoredTensor] {
        Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func contains(_ name: String) -> Bool { tensorsByName[name] != nil }

    public func tensor(named name: String) throws -> StoredTensor {
        guard let t = tensorsByName[name] else {
            throw SlimError.malformedFile(path: path, detail: "missing tensor '\(name)'")
        }
        return t
    }

    /// The tensor's bytes inside the mapping, no copy, verified (``verify(_:)``).
    /// Every read of a tensor goes through here. `t` must be one of this file's tensors.
    public func bytes(of t: StoredTensor) throws -> UnsafeRawBufferPointer {
        try verify(t)
        return UnsafeRawBufferPointer(rebasing: shards[t.shard].bytes[t.byteRange])
    }

    /// Drops `t`'s pages from the resident set (file-backed pages of a mapping
    /// count in it): a reader streaming a model layer by layer calls this when
    /// it is done with a layer's weights. A later read maps them in again.
    public func release(_ t: StoredTensor) {
        shards[t.shard].release(t.byteRange)
    }

    /// Drops every mapped page of every shard (headers and neighbours included; what is read
    /// again faults back in): a streaming reader between layers. Releasing tensor by tensor
    /// leaves the pages that straddle two tensors and, where the kernel maps a large folio at
    /// once, the whole folio around a header: 2 MB per shard was seen to stay.
    public func releaseAll() {
        for shard in shards { shard.release(0..<shard.count) }
    }

    /// SHA-256 of the files' bytes, shard after shard, read a slice at a time.
    public func contentSHA256() -> String {
        var hash = SHA256()
        let slice = 16 << 20
        for shard in shards {
            for start in stride(from: 0, to: shard.count, by: slice) {
                hash.update(UnsafeRawBufferPointer(rebasing: shard.bytes[start..<min(start + slice, shard.count)]))
                shard.release(start..<min(start + slice, shard.count))
            }
        }
        return hash.hexDigest()
    }

    /// The values as fp32: plain floats converted, GGUF blocks decoded.
    /// Every weight a model loads comes through here, so here is where NaN
    /// and ±∞ are refused (see ``NonFiniteWeights``); one pass over values
    /// just written, about 9 ms for all of MiniLM in a release build.
    public func floats(_ t: StoredTensor) throws -> [Float] {
        let values = try convertedFloats(t)
        try NonFiniteWeights.checkLoaded(values, tensor: t.name, origin: path)
        return values
    }

    /// Rows `rows` of `t` (its outermost dimension) as fp32, checked like ``floats(_:)``:
    /// a large table read a slice at a time never sits in memory as fp32 whole.
    public func floats(_ t: StoredTensor, rows: Range<Int>) throws -> [Float] {
        let outer = t.shape.first ?? 1
        guard rows.lowerBound >= 0, rows.upperBound <= outer, let rowBytes = t.kind.byteCount(shape: Array(t.shape.dropFirst())) else {
            throw SlimError.invalidArgument("rows \(rows) of tensor '\(t.name)' \(t.shape) in \(path)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: try bytes(of: t)[rows.lowerBound * rowBytes..<rows.upperBound * rowBytes])
        let values = try convertedFloats(raw, count: rows.count * (t.elementCount / max(outer, 1)), t)
        try NonFiniteWeights.checkLoaded(values, tensor: t.name, origin: path)
        return values
    }

    private func convertedFloats(_ t: StoredTensor) throws -> [Float] {
        try convertedFloats(try bytes(of: t), count: t.elementCount, t)
    }

    private func convertedFloats(_ raw: UnsafeRawBufferPointer, count n: Int, _ t: StoredTensor) throws -> [Float] {
        switch t.kind {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { buffer, count in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                count = n
            }
        case .f16:
            return (0..<n).map { HalfFloats.float(f16: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
        case .bf16:
            return (0..<n).map { HalfFloats.float(bf16: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
        case .f64:
            return (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) }
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K:
            // Blocks run along the last (innermost) dimension, so every row is whole blocks.
            guard n > 0, let format = t.kind.quantFormat else { return [] }
            let columns = t.shape.last ?? 1
            return try QuantCodec.decode(QuantCodec.Encoded(data: Array(raw)), rows: n / columns, columns: columns, format: format)
        default:
            throw SlimError.dtypeMismatch(op: "read \(path)", detail: "tensor '\(t.name)' holds \(t.kind) values, not floats")
        }
    }

    /// Reads every float tensor once, refusing NaN and ±∞ as ``floats(_:)``
    /// does: for a step that copies some tensors into its output without
    /// reading them (compression copies biases and norms), so that a
    /// non-finite one is not passed on silently. One tensor in memory at a time.
    public func checkFiniteWeights() throws {
        guard !NonFiniteWeights.allowed else { return }
        for t in tensors where t.kind.holdsFloats {
            _ = try floats(t)
            release(t)
        }
    }

    /// The values of an integer or bool tensor, widened to Int64.
    public func int64s(_ t: StoredTensor) throws -> [Int64] {
        let raw = try bytes(of: t), n = t.elementCount
        func load<T: FixedWidthInteger>(_: T.Type) -> [Int64] {
            (0..<n).map { Int64(T(littleEndian: raw.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * $0, as: T.self))) }
        }
        switch t.kind {
        case .i64: return load(Int64.self)
        case .i32: return load(Int32.self)
        case .i16: return load(Int16.self)
        case .i8: return load(Int8.self)
        case .u8, .bool: return load(UInt8.self)
        default:
            throw SlimError.dtypeMismatch(op: "read \(path)", detail: "tensor '\(t.name)' holds \(t.kind) values, not integers")
        }
    }
}

/// A file's tensors as model weights, read by name.
public struct TensorFileWeights: WeightStore {
    public let file: any TensorFile
    public init(_ file: any TensorFile) { self.file = file }
    public var origin: String { file.path }
    public func contains(_ name: String) -> Bool { file.contains(name) }
    public func shape(of name: String) throws -> [Int] { try file.tensor(named: name).shape }
    public func floats(_ name: String) throws -> [Float] { try file.floats(try file.tensor(named: name)) }
}
