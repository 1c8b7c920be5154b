import Foundation
import SlimCore

/// A GGUF file (llama.cpp's format, versions 2 and 3): "GGUF", version, tensor
/// and metadata counts, typed key-value metadata, tensor descriptions, then the
/// tensor data, aligned to `general.alignment`. Every count, length, type,
/// shape and offset is checked against the file before a tensor is listed.
/// https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
public final class GGUFFile: TensorFile {
    public let file: MappedFile
    public let version: Int
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// Each key's stored type (an array's with its element type), so a writer can copy a value as it was
    /// stored: llama.cpp refuses a key whose type is not the one it expects.
    public let metadataTypes: [String: GGUFValueType]
    /// In the order the header lists them (their data order in files llama.cpp writes).
    public let tensors: [StoredTensor]
    public let tensorsByName: [String: StoredTensor]
    public let alignment: Int
    /// Where the data section starts; tensor offsets in the header count from here.
    public let dataOffset: Int
    public var format: String { "gguf" }
    public var path: String { file.path }
    public var shards: [MappedFile] { [file] }

    public var architecture: String? { metadata["general.architecture"]?.string }

    /// GGUF records no per-tensor checksums: every tensor is read as it is.
    public func verify(_ t: StoredTensor) {}

    /// `<architecture>.<key>`, e.g. `value(forArchitectureKey: "block_count")` reads `llama.block_count`.
    public func value(forArchitectureKey key: String) -> GGUFValue? {
        architecture.flatMap { metadata["\($0).\(key)"] }
    }

    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
    static let defaultAlignment = 32

    public convenience init(contentsOf url: URL) throws {
        try self.init(try MappedFile(path: url.path))
    }

    public init(_ file: MappedFile) throws {
        self.file = file
        var r = ByteReader(file)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == Self.magic else {
            throw r.fail(String(format: "not a GGUF file: starts with 0x%08x, not \"GGUF\"", UInt32(bigEndian: magic)), at: 0)
        }
        version = Int(try Self.readVersion(&r))
        // The smallest tensor description is a name length, n_dims, type and offset;
        // the smallest key-value pair a key length, a type and one byte.
        let tensorCount = try r.readCount("tensor count", minimumBytes: 24)
        let kvCount = try r.readCount("metadata count", minimumBytes: 13)

        var metadata: [String: GGUFValue] = [:], keys: [String] = [], types: [String: GGUFValueType] = [:]
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let start = r.offset
            let key = try r.ggufString("key of metadata entry \(i)")
            let type = try r.read(UInt32.self, "type of '\(key)'")
            let elementStart = r.offset
            let value = try r.ggufValue(type: type, "'\(key)'")
            // An array's element type is the first field after its type: read it again from where the value began.
            var element = ByteReader(file, at: elementStart)
            types[key] = GGUFValueType(stored: type, element: type == GGUFValueType.Scalar.array.rawValue
                                       ? try element.read(UInt32.self, "element type of '\(key)'") : nil)
            guard metadata.updateValue(value, forKey: key) == nil else { throw r.fail("key '\(key)' appears twice", at: start) }
            keys.append(key)
        }
        self.metadata = metadata
        metadataKeys = keys
        metadataTypes = types
        alignment = try Self.alignment(metadata["general.alignment"], r)

        var infos: [TensorInfo] = []
        infos.reserveCapacity(tensorCount)
        for i in 0..<tensorCount { infos.append(try TensorInfo(&r, index: i)) }
        dataOffset = (r.offset + alignment - 1) / alignment * alignment
        tensors = try Self.place(infos, dataOffset: dataOffset, alignment: alignment, r)
        tensorsByName = Self.byName(tensors)
    }

    private static func readVersion(_ r: inout ByteReader) throws(SlimError) -> UInt32 {
        let version = try r.read(UInt32.self, "version")
        switch version {
        case 2, 3:
            return version
        case 1:
            throw r.fail("GGUF version 1 is not supported (it has 32-bit lengths); convert the model again with a current llama.cpp", at: 4)
        case _ where [2, 3].contains(version.byteSwapped):
            throw r.fail("big-endian GGUF files are not supported", at: 4)
        default:
            throw r.fail("unknown GGUF version \(version) (Slim reads versions 2 and 3)", at: 4)
        }
    }

    private static func alignment(_ value: GGUFValue?, _ r: ByteReader) throws(SlimError) -> Int {
        guard let value else { return defaultAlignment }
        // A cap keeps the data offset arithmetic far from overflow; real files use 32.
        guard let a = value.int, a > 0, a <= 1 << 30, a & (a - 1) == 0 else {
            throw SlimError.malformedFile(path: r.file.path, detail: "general.alignment \(value) is not a power of two between 1 and 2^30")
        }
        return a
    }

    /// Turns the header's descriptions into tensors: aligned, inside the file, not overlapping.
    private static func place(_ infos: [TensorInfo], dataOffset: Int, alignment: Int, _ r: ByteReader) throws(SlimError) -> [StoredTensor] {
        let dataSize = r.file.count - dataOffset  // negative when the padding runs past the end
        var names = Set<String>()
        var tensors: [StoredTensor] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            func bad(_ what: String) -> SlimError { r.fail("tensor '\(info.name)': \(what)", at: info.headerOffset) }
            guard names.insert(info.name).inserted else { throw bad("listed twice") }
            let shape = Array(info.dims.reversed())
            if let weights = info.kind.quantFormat?.ggufBlockWeights, let row = info.dims.first, row % weights != 0 {
                throw bad("\(info.kind) rows hold whole blocks of \(weights) weights, but its rows have \(row)")
            }
            guard let bytes = info.kind.byteCount(shape: shape) else { throw bad("shape \(shape) has too many elements") }
            guard info.offset % UInt64(alignment) == 0 else {
                throw bad("data offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            guard dataSize >= 0, info.offset <= UInt64(dataSize), bytes <= dataSize - Int(info.offset) else {
                throw bad("\(bytes) bytes at data offset \(info.offset) run past the \(max(dataSize, 0))-byte data section")
            }
            let start = dataOffset + Int(info.offset)
            tensors.append(StoredTensor(name: info.name, kind: info.kind, shape: shape, byteRange: start..<start + bytes))
        }
        let byStart = tensors.sorted { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        for (a, b) in zip(byStart, byStart.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw SlimError.malformedFile(path: r.file.path, detail: "tensors '\(a.name)' and '\(b.name)' overlap")
        }
        return tensors
    }
}

/// One tensor description of the header, before it is checked against the data section.
private struct TensorInfo {
    let name: String
    /// Innermost first, as ggml's `ne`.
    let dims: [Int]
    let kind: StoredKind
    let offset: UInt64
    let headerOffset: Int

    /// ggml's GGML_MAX_DIMS.
    static let maxDims: UInt32 = 4

    init(_ r: inout ByteReader, index: Int) throws(SlimError) {
        headerOffset = r.offset
        let name = try r.ggufString("name of tensor \(index)")
        self.name = name
        let n = try r.read(UInt32.self, "dimension count of tensor '\(name)'")
        guard n <= Self.maxDims else { throw r.fail("tensor '\(name)' has \(n) dimensions; GGUF allows at most \(Self.maxDims)", at: r.offset - 4) }
        var dims: [Int] = []
        for d in 0..<Int(n) {
            let v = try r.read(UInt64.self, "dimension \(d) of tensor '\(name)'")
            guard v <= UInt64(Int64.max) else { throw r.fail("tensor '\(name)' has dimension \(d) = \(v)", at: r.offset - 8) }
            dims.append(Int(v))
        }
        self.dims = dims
        let type = try r.read(UInt32.self, "type of tensor '\(name)'")
        kind = try GGMLType.kind(type, tensor: name, r)
        offset = try r.read(UInt64.self, "data offset of tensor '\(name)'")
    }
}

/// ggml's tensor type numbers (ggml.h `enum ggml_type`).
enum GGMLType {
    static let kinds: [UInt32: StoredKind] = [
        0: .f32, 1: .f16, 2: .q4_0, 3: .q4_1, 6: .q5_0, 7: .q5_1, 8: .q8_0, 12: .q4_K, 14: .q6_K,
        24: .i8, 25: .i16, 26: .i32, 27: .i64, 28: .f64, 30: .bf16,
    ]

    /// The types Slim cannot read yet, named so the error says what the file holds.
    static let otherNames: [UInt32: String] = [
        9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 13: "Q5_K", 15: "Q8_K",
        16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
        23: "IQ4_XS", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
    ]

    static func kind(_ type: UInt32, tensor: String, _ r: ByteReader) throws(SlimError) -> StoredKind {
        if let kind = kinds[type] { return kind }
        guard let name = otherNames[type] else {
            throw r.fail("tensor '\(tensor)' has unknown ggml type \(type)", at: r.offset - 4)
        }
        let readable = kinds.sorted { $0.key < $1.key }.map { $0.value.rawValue.uppercased() }.joined(separator: ", ")
        throw SlimError.unsupported(op: "read \(r.file.path)", backend: "model",
                                    reason: "tensor '\(tensor)' is \(name) (ggml type \(type)); Slim reads \(readable)")
    }
}
