import Foundation
import SlimCore

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, then the data. Every
/// claim of the header is checked against the file before a tensor is read,
/// and, in files Slim wrote, each tensor against its checksum when it is read.
public final class SafeTensorsFile: TensorFile {
    public let file: MappedFile
    public let tensors: [StoredTensor]
    public let tensorsByName: [String: StoredTensor]
    /// The `__metadata__` entries, less Slim's checksums (``TensorChecksums``).
    public let metadata: [String: String]
    /// Nil for files without checksums (Hugging Face checkpoints).
    private let checksums: TensorChecksums?
    public var format: String { "safetensors" }
    public var path: String { file.path }
    public var shards: [MappedFile] { [file] }

    static let kinds: [String: StoredKind] = [
        "F64": .f64, "F32": .f32, "F16": .f16, "BF16": .bf16, "I64": .i64, "I32": .i32, "I16": .i16,
        "I8": .i8, "U8": .u8, "BOOL": .bool,
    ]

    public convenience init(contentsOf url: URL) throws {
        try self.init(try MappedFile(path: url.path))
    }

    public init(_ file: MappedFile) throws {
        self.file = file
        var reader = ByteReader(file)
        let declared = try reader.read(UInt64.self, "header length")
        // The reference implementation caps headers at 100 MB too; a larger claim is corruption.
        let limit = min(reader.remaining, 100_000_000)
        guard declared >= 2, declared <= UInt64(limit) else {
            throw reader.fail("header length \(declared) is not between 2 and \(limit) (the file has \(file.count) bytes)", at: 0)
        }
        let headerBytes = try reader.bytes(Int(declared), "header")
        let dataStart = reader.offset, dataSize = file.count - dataStart
        guard let text = String(validating: headerBytes, as: UTF8.self) else {
            throw reader.fail("header is not valid UTF-8", at: 8)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw reader.fail("header is not a JSON object", at: 8)
        }
        let keys = JSONKeys.topLevelKeys(in: headerBytes)
        if let duplicate = JSONKeys.firstDuplicate(keys) {
            throw reader.fail("tensor '\(duplicate)' is listed twice", at: 8)
        }
        // Equal keys spelled with different escapes ("a" and "\u0061") collapse in the parser.
        guard keys.count == object.count else {
            throw reader.fail("the header lists \(keys.count) keys but only \(object.count) distinct names", at: 8)
        }
        var metadata: [String: String] = [:]
        var tensors: [StoredTensor] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any], let strings = m as? [String: String] else {
                    throw reader.fail("__metadata__ must map strings to strings", at: 8)
                }
                metadata = strings
                continue
            }
            tensors.append(try Self.entry(name, value, dataStart: dataStart, dataSize: dataSize, reader: reader))
        }
        tensors.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        for (a, b) in zip(tensors, tensors.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw reader.fail("tensors '\(a.name)' and '\(b.name)' overlap", at: 8)
        }
        self.tensors = tensors
        tensorsByName = Self.byName(tensors)
        let claims = tensors.map {
            TensorChecksums.Claim(name: $0.name, kind: $0.kind, shape: $0.shape,
                                  offsets: $0.byteRange.lowerBound - dataStart..<$0.byteRange.upperBound - dataStart)
        }
        (self.metadata, checksums) = try TensorChecksums.read(metadata: metadata, claims: claims, path: file.path)
        // The header is parsed: its pages (the kernel may have mapped a 2 MB folio around it) are not needed again.
        file.release(0..<file.count)
    }

    public func verify(_ t: StoredTensor) throws {
        try checksums?.verify(t, bytes: UnsafeRawBufferPointer(rebasing: file.bytes[t.byteRange]))
    }

    private static func entry(_ name: String, _ value: Any, dataStart: Int, dataSize: Int, reader: ByteReader) throws -> StoredTensor {
        func bad(_ what: String) -> SlimError { reader.fail("tensor '\(name)': \(what)", at: 8) }
        guard let info = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let dtype = info["dtype"] as? String else { throw bad("no dtype") }
        guard let kind = kinds[dtype] else { throw bad("unknown dtype '\(dtype)'") }
        guard let shape = integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape must be an array of non-negative integers")
        }
        guard let offsets = integers(info["data_offsets"]), offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
            throw bad("data_offsets must be two integers [begin, end] with begin ≤ end")
        }
        guard offsets[1] <= dataSize else {
            throw bad("bytes \(offsets[0])..<\(offsets[1]) run past the \(dataSize)-byte data section")
        }
        guard let expected = kind.byteCount(shape: shape), expected == offsets[1] - offsets[0] else {
            throw bad("shape \(shape) of \(dtype) needs \(kind.byteCount(shape: shape).map(String.init) ?? "too many") bytes, the range holds \(offsets[1] - offsets[0])")
        }
        return StoredTensor(name: name, kind: kind, shape: shape, byteRange: dataStart + offsets[0]..<dataStart + offsets[1])
    }

    /// Integers from a JSON array; nil for anything else (fractions, strings, huge values).
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        for v in array {
            guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 9e15 else { return nil }
            out.append(n.intValue)
        }
        return out
    }
}

/// JSONSerialization keeps one of two equal keys silently; a model file that
/// names a tensor twice is ambiguous, so the keys are scanned separately.
enum JSONKeys {
    /// The raw bytes of each top-level key of a JSON object text, escapes left as written.
    /// Only meaningful for text that already parsed as an object.
    static func topLevelKeys(in text: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer] {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var keys: [UnsafeRawBufferPointer] = []
        var depth = 0, i = 0, expectingKey = false
        while i < text.count {
            let c = text[i]
            switch c {
            case quote:
                let start = i + 1
                i += 1
                while i < text.count, text[i] != quote { i += text[i] == backslash ? 2 : 1 }
                if depth == 1 && expectingKey {
                    keys.append(UnsafeRawBufferPointer(rebasing: text[start..<min(i, text.count)]))
                    expectingKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1 && c == UInt8(ascii: "{")
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectingKey = true }
            default:
                break
            }
            i += 1
        }
        return keys
    }

    static func firstDuplicate(_ keys: [UnsafeRawBufferPointer]) -> String? {
        var seen = Set<[UInt8]>()
        for key in keys where !seen.insert(Array(key)).inserted { return String(decoding: key, as: UTF8.self) }
        return nil
    }
}
