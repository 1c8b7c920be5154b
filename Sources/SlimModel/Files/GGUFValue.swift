import SlimCore

/// A GGUF metadata value. The thirteen on-disk types fold into six cases:
/// every width of unsigned integer is `.uint`, of signed `.int`, of float
/// `.float`; readers want the number, not its storage.
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// Any integer that fits an `Int`.
    public var int: Int? {
        switch self {
        case let .uint(v): v <= UInt64(Int.max) ? Int(v) : nil
        case let .int(v): Int(exactly: v)
        default: nil
        }
    }

    /// Any number.
    public var double: Double? {
        switch self {
        case let .float(v): v
        case let .uint(v): Double(v)
        case let .int(v): Double(v)
        default: nil
        }
    }

    public var bool: Bool? {
        if case let .bool(v) = self { v } else { nil }
    }

    public var string: String? {
        if case let .string(v) = self { v } else { nil }
    }

    public var array: [GGUFValue]? {
        if case let .array(v) = self { v } else { nil }
    }

    /// A string array such as `tokenizer.ggml.tokens`; nil if any element is not a string.
    public var strings: [String]? { mapArray(\.string) }
    /// A number array such as `tokenizer.ggml.scores`.
    public var floats: [Float]? { mapArray { $0.double.map(Float.init) } }
    /// An integer array such as `tokenizer.ggml.token_type`.
    public var ints: [Int]? { mapArray(\.int) }

    private func mapArray<T>(_ transform: (GGUFValue) -> T?) -> [T]? {
        guard case let .array(values) = self else { return nil }
        var out: [T] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let t = transform(v) else { return nil }
            out.append(t)
        }
        return out
    }

    /// Short enough for a terminal: long arrays show their first elements and their length.
    public var description: String {
        switch self {
        case let .uint(v): "\(v)"
        case let .int(v): "\(v)"
        case let .float(v): "\(v)"
        case let .bool(v): "\(v)"
        case let .string(v): v.count > 60 ? "\"\(v.prefix(57))…\" (\(v.utf8.count) bytes)" : "\"\(v)\""
        case let .array(values):
            values.count <= 8
                ? "[" + values.map(\.description).joined(separator: ", ") + "]"
                : "[" + values.prefix(3).map(\.description).joined(separator: ", ") + ", … (\(values.count) values)]"
        }
    }
}

/// Reading GGUF values: type numbers, lengths and nesting all come from the
/// file, so each is checked before it is trusted.
extension ByteReader {
    /// Arrays of arrays are legal, but no model nests deeper than this; a
    /// deeper file would only be a way to exhaust the stack.
    static let ggufMaxArrayDepth = 8

    /// A u64-length UTF-8 string.
    mutating func ggufString(_ what: @autoclosure () -> String) throws(SlimError) -> String {
        let length = try readCount("length of \(what())", minimumBytes: 1)
        return try string(length, what())
    }

    /// The fewest bytes a value of GGUF type `type` occupies (nil: no such type).
    static func ggufMinimumBytes(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 8, 10, 11, 12: 8  // a string is at least its u64 length
        case 9: 12  // element type and count
        default: nil
        }
    }

    mutating func ggufValue(type: UInt32, _ what: @autoclosure () -> String, depth: Int = 0) throws(SlimError) -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try read(UInt8.self, what())))
        case 1: return .int(Int64(try read(Int8.self, what())))
        case 2: return .uint(UInt64(try read(UInt16.self, what())))
        case 3: return .int(Int64(try read(Int16.self, what())))
        case 4: return .uint(UInt64(try read(UInt32.self, what())))
        case 5: return .int(Int64(try read(Int32.self, what())))
        case 6: return .float(Double(try readF32(what())))
        case 7: return .bool(try readBool(what()))
        case 8: return .string(try ggufString(what()))
        case 9: return .array(try ggufArray(what(), depth: depth))
        case 10: return .uint(try read(UInt64.self, what()))
        case 11: return .int(try read(Int64.self, what()))
        case 12: return .float(try readF64(what()))
        default: throw fail("\(what()) has unknown value type \(type)", at: offset - 4)
        }
    }

    private mutating func ggufArray(_ what: @autoclosure () -> String, depth: Int) throws(SlimError) -> [GGUFValue] {
        guard depth < Self.ggufMaxArrayDepth else {
            throw fail("\(what()) nests arrays deeper than \(Self.ggufMaxArrayDepth) levels")
        }
        let elementType = try read(UInt32.self, "element type of \(what())")
        guard let minimum = Self.ggufMinimumBytes(elementType) else {
            throw fail("\(what()) has unknown element type \(elementType)", at: offset - 4)
        }
        let count = try readCount("length of \(what())", minimumBytes: minimum)
        var values: [GGUFValue] = []
        values.reserveCapacity(count)
        for i in 0..<count {
            values.append(try ggufValue(type: elementType, "element \(i) of \(what())", depth: depth + 1))
        }
        return values
    }
}
