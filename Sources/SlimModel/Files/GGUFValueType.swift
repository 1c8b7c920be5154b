/// The stored type of a GGUF metadata value (gguf.md `gguf_metadata_value_type`).
/// ``GGUFValue`` folds the widths away for readers; a writer needs them back,
/// because llama.cpp's loader refuses a key stored with another type than the
/// one it asks for (`block_count` must be a UINT32, `rope.freq_base` a FLOAT32).
public struct GGUFValueType: Sendable, Hashable, CustomStringConvertible {
    public enum Scalar: UInt32, Sendable {
        case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64
    }

    public let scalar: Scalar
    /// An array's element type (nil for a scalar).
    public let element: Scalar?

    public init(_ scalar: Scalar, element: Scalar? = nil) {
        self.scalar = scalar
        self.element = scalar == .array ? element : nil
    }

    /// From the numbers in a file the reader has already checked.
    init(stored: UInt32, element: UInt32?) {
        self.init(Scalar(rawValue: stored) ?? .uint8, element: element.flatMap(Scalar.init(rawValue:)))
    }

    public static let uint32 = GGUFValueType(.uint32), int32 = GGUFValueType(.int32), uint64 = GGUFValueType(.uint64)
    public static let float32 = GGUFValueType(.float32), bool = GGUFValueType(.bool), string = GGUFValueType(.string)
    public static func array(of element: Scalar) -> GGUFValueType { GGUFValueType(.array, element: element) }

    public var description: String {
        element.map { "array of \($0)" } ?? "\(scalar)"
    }
}

/// One metadata key-value pair to write, with the type it is stored as.
public struct GGUFMetadataEntry: Sendable, Equatable {
    public let key: String
    public let value: GGUFValue
    public let type: GGUFValueType

    public init(_ key: String, _ value: GGUFValue, as type: GGUFValueType) {
        self.key = key
        self.value = value
        self.type = type
    }

    public static func uint32(_ key: String, _ v: Int) -> Self { .init(key, .uint(UInt64(v)), as: .uint32) }
    public static func float32(_ key: String, _ v: Float) -> Self { .init(key, .float(Double(v)), as: .float32) }
    public static func string(_ key: String, _ v: String) -> Self { .init(key, .string(v), as: .string) }
    public static func bool(_ key: String, _ v: Bool) -> Self { .init(key, .bool(v), as: .bool) }
    public static func strings(_ key: String, _ v: [String]) -> Self { .init(key, .array(v.map { .string($0) }), as: .array(of: .string)) }
    public static func float32s(_ key: String, _ v: [Float]) -> Self { .init(key, .array(v.map { .float(Double($0)) }), as: .array(of: .float32)) }
    public static func int32s(_ key: String, _ v: [Int]) -> Self { .init(key, .array(v.map { .int(Int64($0)) }), as: .array(of: .int32)) }
}
