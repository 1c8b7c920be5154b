import Foundation
import SlimCore

/// Writes `.safetensors` files the way the reference implementation does:
/// sorted JSON header with `__metadata__`, padded with spaces to 8 bytes,
/// tensors contiguous in the order given. `__metadata__` also records a
/// checksum of each tensor and of the header (``TensorChecksums``), which
/// Slim's reader checks. The file appears only when complete (temporary
/// file, then rename). A model folder of any size is written tensor by
/// tensor, in shards, by ``CheckpointWriter``.
public enum SafeTensorsWriter {
    public struct Entry {
        public var name: String, kind: StoredKind, shape: [Int], data: Data
        public init(name: String, kind: StoredKind, shape: [Int], data: Data) {
            self.name = name; self.kind = kind; self.shape = shape; self.data = data
        }

        /// Float values stored as `kind` (`.f32`, `.f16` or `.bf16`), rounded to
        /// nearest even (``HalfFloats``): a tensor that stays float keeps its source's width.
        public static func floats(_ name: String, _ values: [Float], shape: [Int], as kind: StoredKind = .f32) throws -> Entry {
            func halves(_ narrow: (Float) -> UInt16) -> Data {
                values.map { narrow($0).littleEndian }.withUnsafeBytes { Data($0) }
            }
            let data: Data = switch kind {
            case .f32: values.withUnsafeBytes { Data($0) }
            case .f16: halves(HalfFloats.f16)
            case .bf16: halves(HalfFloats.bf16)
            default: throw SlimError.invalidArgument("tensor '\(name)': floats are written as f32, f16 or bf16, not \(kind)")
            }
            return Entry(name: name, kind: kind, shape: shape, data: data)
        }
    }

    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL) throws {
        var header = SafeTensorsHeader(metadata: metadata, origin: url.path)
        for e in entries { try header.append(e) }
        var file = try header.encoded()
        file.reserveCapacity(file.count + header.dataBytes)
        for e in entries { file.append(e.data) }
        try writeAtomically(file, to: url)
    }
}

/// The header of a safetensors file being written, built tensor by tensor as
/// their bytes go by: names, dtypes, shapes, offsets and checksums.
struct SafeTensorsHeader {
    static let dtypeNames = SafeTensorsFile.kinds.reduce(into: [StoredKind: String]()) { $0[$1.value] = $1.key }

    let metadata: [String: String]
    let origin: String
    private var fields: [String: Any] = [:]
    private(set) var claims: [TensorChecksums.Claim] = []
    private var digests: [UInt64] = []
    /// Bytes of the data section so far.
    private(set) var dataBytes = 0

    init(metadata: [String: String], origin: String) {
        // Checksums carried over from a file read earlier describe other bytes: these are recomputed.
        self.metadata = metadata.filter { !TensorChecksums.isChecksumKey($0.key) }
        self.origin = origin
    }

    var isEmpty: Bool { claims.isEmpty }

    /// Checks `e` and places it after the tensors appended so far.
    mutating func append(_ e: SafeTensorsWriter.Entry) throws {
        try Self.check(e, origin: origin)
        guard fields[e.name] == nil else { throw SlimError.invalidArgument("tensor name '\(e.name)' is used twice") }
        let offsets = dataBytes..<dataBytes + e.data.count
        fields[e.name] = ["dtype": Self.dtypeNames[e.kind]!, "shape": e.shape, "data_offsets": [offsets.lowerBound, offsets.upperBound]]
        claims.append(.init(name: e.name, kind: e.kind, shape: e.shape, offsets: offsets))
        digests.append(TensorChecksums.digest(e.data))
        dataBytes = offsets.upperBound
    }

    /// What every writer refuses: a kind safetensors cannot store, a reserved
    /// name, bytes that do not fit the shape.
    static func check(_ e: SafeTensorsWriter.Entry, origin: String) throws {
        guard dtypeNames[e.kind] != nil else {
            throw SlimError.invalidArgument("safetensors cannot store \(e.kind) tensor '\(e.name)'")
        }
        guard e.name != "__metadata__" else { throw SlimError.invalidArgument("tensor name '\(e.name)' is reserved") }
        guard e.kind.byteCount(shape: e.shape) == e.data.count else {
            throw SlimError.shapeMismatch(op: "write \(origin)", detail: "tensor '\(e.name)' \(e.shape) \(e.kind) has \(e.data.count) bytes")
        }
    }

    /// The 8-byte length and the JSON header, padded with spaces to a multiple of 8.
    func encoded() throws -> Data {
        var header = fields
        header["__metadata__"] = metadata.merging(TensorChecksums.record(metadata: metadata, claims: claims, digests: digests)) { $1 }
        var json = try JSONOutput.data(header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var out = Data(capacity: 8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        return out
    }
}
