import Foundation
import SlimCore

/// One tensor of a GGUF file to write: its name, shape (outermost first, as
/// Slim's shapes; the file stores them innermost first) and element type.
public struct GGUFTensorPlan: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let kind: StoredKind

    public init(name: String, shape: [Int], kind: StoredKind) {
        self.name = name
        self.shape = shape
        self.kind = kind
    }

    /// The bytes its data takes (nil: the shape does not fit the kind).
    public var byteCount: Int? { kind.byteCount(shape: shape) }
}

/// Writes a GGUF v3 file (the format ``GGUFFile`` reads): "GGUF", version 3,
/// tensor and metadata counts, the metadata with their stored types, the
/// tensor descriptions with offsets counted from the data section, then each
/// tensor's bytes, every one starting at a multiple of `general.alignment`.
///
/// The header is complete before any data (offsets follow from the planned
/// shapes), so the data is streamed: `data` is asked for one tensor at a
/// time, in plan order, and its bytes leave memory once written. The writer
/// writes `url` itself; staging and renaming into place is ``GGUFOutput``'s.
public enum GGUFWriter {
    public static let version: UInt32 = 3
    public static let defaultAlignment = GGUFFile.defaultAlignment

    /// What ``write(to:metadata:tensors:data:)`` wrote.
    public struct Written: Sendable {
        public let fileBytes: Int
        public let tensorBytes: Int
    }

    /// `metadata` in order; `general.alignment` is added (as UINT32) unless given.
    public static func write(to url: URL, metadata: [GGUFMetadataEntry], tensors: [GGUFTensorPlan],
                             data: (Int, GGUFTensorPlan) throws -> Data) throws -> Written {
        var entries = metadata
        if !entries.contains(where: { $0.key == "general.alignment" }) {
            entries.insert(.uint32("general.alignment", defaultAlignment), at: 0)
        }
        var keys = Set<String>()
        for e in entries where !keys.insert(e.key).inserted {
            throw SlimError.invalidArgument("\(url.path): metadata key '\(e.key)' is given twice")
        }
        let alignment = try alignment(of: entries, url)
        var head = Data()
        head.append(le: GGUFFile.magic)
        head.append(le: version)
        head.append(le: UInt64(tensors.count))
        head.append(le: UInt64(entries.count))
        for e in entries {
            head.appendGGUF(e.key)
            head.append(le: e.type.scalar.rawValue)
            try head.appendGGUF(e.value, as: e.type, key: e.key)
        }
        // Offsets within the data section, each tensor starting at a multiple of the alignment.
        var offset = 0, sizes: [Int] = [], names = Set<String>()
        for t in tensors {
            guard names.insert(t.name).inserted else { throw SlimError.invalidArgument("\(url.path): tensor '\(t.name)' is planned twice") }
            guard (1...4).contains(t.shape.count), let ggml = GGMLType.number(of: t.kind), let size = t.byteCount else {
                throw SlimError.invalidArgument("\(url.path): tensor '\(t.name)' \(t.shape) cannot be stored as \(t.kind) in GGUF")
            }
            head.appendGGUF(t.name)
            head.append(le: UInt32(t.shape.count))
            for d in t.shape.reversed() { head.append(le: UInt64(d)) }
            head.append(le: ggml)
            head.append(le: UInt64(offset))
            sizes.append(size)
            offset = padded(offset + size, alignment)
        }
        head.append(Data(count: padded(head.count, alignment) - head.count))

        let handle = try withFileErrors("create the GGUF file", path: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw SlimError.io(path: url.path, detail: "cannot create it")
            }
            return try FileHandle(forWritingTo: url)
        }
        defer { try? handle.close() }
        var written = head.count, tensorBytes = 0
        try withFileErrors("write the GGUF header", path: url.path) { try handle.write(contentsOf: head) }
        for (i, t) in tensors.enumerated() {
            let bytes = try data(i, t)
            guard bytes.count == sizes[i] else {
                throw SlimError.invalidArgument("\(url.path): tensor '\(t.name)' \(t.shape) \(t.kind) needs \(sizes[i]) bytes, given \(bytes.count)")
            }
            let padding = i + 1 < tensors.count ? padded(bytes.count, alignment) - bytes.count : 0
            try withFileErrors("write tensor '\(t.name)'", path: url.path) {
                try handle.write(contentsOf: bytes)
                if padding > 0 { try handle.write(contentsOf: Data(count: padding)) }
            }
            written += bytes.count + padding
            tensorBytes += bytes.count
        }
        try withFileErrors("finish the GGUF file", path: url.path) { try handle.synchronize() }
        return Written(fileBytes: written, tensorBytes: tensorBytes)
    }

    private static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private static func alignment(of entries: [GGUFMetadataEntry], _ url: URL) throws -> Int {
        guard let e = entries.first(where: { $0.key == "general.alignment" }) else { return defaultAlignment }
        guard e.type == .uint32, let a = e.value.int, a > 0, a <= 1 << 30, a & (a - 1) == 0 else {
            throw SlimError.invalidArgument("\(url.path): general.alignment must be a UINT32 power of two, not \(e.value) as \(e.type)")
        }
        return a
    }
}

extension GGMLType {
    /// The ggml type number a tensor of `kind` is written with (the reader's table, read backwards).
    static func number(of kind: StoredKind) -> UInt32? {
        kinds.first { $0.value == kind }?.key
    }
}

extension Data {
    mutating func append<T: FixedWidthInteger>(le value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// A u64 length and the UTF-8 bytes.
    mutating func appendGGUF(_ string: String) {
        append(le: UInt64(string.utf8.count))
        append(contentsOf: string.utf8)
    }

    /// `value` stored as `type`; a value that does not fit its type is an error naming the key.
    mutating func appendGGUF(_ value: GGUFValue, as type: GGUFValueType, key: String) throws {
        func bad() -> SlimError { .invalidArgument("GGUF metadata '\(key)': \(value) cannot be stored as \(type)") }
        func integer<T: FixedWidthInteger>(_: T.Type) throws {
            let v: T? = switch value {
            case let .uint(u): T(exactly: u)
            case let .int(i): T(exactly: i)
            default: nil
            }
            guard let v else { throw bad() }
            append(le: v)
        }
        switch type.scalar {
        case .uint8: try integer(UInt8.self)
        case .int8: try integer(Int8.self)
        case .uint16: try integer(UInt16.self)
        case .int16: try integer(Int16.self)
        case .uint32: try integer(UInt32.self)
        case .int32: try integer(Int32.self)
        case .uint64: try integer(UInt64.self)
        case .int64: try integer(Int64.self)
        case .float32:
            guard let d = value.double else { throw bad() }
            append(le: Float(d).bitPattern)
        case .float64:
            guard let d = value.double else { throw bad() }
            append(le: d.bitPattern)
        case .bool:
            guard let b = value.bool else { throw bad() }
            append(le: UInt8(b ? 1 : 0))
        case .string:
            guard let s = value.string else { throw bad() }
            appendGGUF(s)
        case .array:
            guard let values = value.array, let element = type.element, element != .array else { throw bad() }
            append(le: element.rawValue)
            append(le: UInt64(values.count))
            for v in values { try appendGGUF(v, as: GGUFValueType(element), key: key) }
        }
    }
}

extension GGUFTensorPlan {
    /// The ggml type number of `kind` (nil: not a type GGUF stores).
    public static func ggmlType(of kind: StoredKind) -> UInt32? { GGMLType.number(of: kind) }
}
