import Foundation
import SlimCore

/// Writes `.safetensors` files the way the reference implementation does:
/// sorted JSON header with `__metadata__`, padded with spaces to 8 bytes,
/// tensors contiguous in the order given. `__metadata__` also records a
/// checksum of each tensor and of the header (``TensorChecksums``), which
/// Slim's reader checks. The file appears only when complete (temporary
/// file, then rename).
public enum SafeTensorsWriter {
    public struct Entry {
        public var name: String, kind: StoredKind, shape: [Int], data: Data
        public init(name: String, kind: StoredKind, shape: [Int], data: Data) {
            self.name = name; self.kind = kind; self.shape = shape; self.data = data
        }
    }

    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL) throws {
        let names = SafeTensorsFile.kinds.reduce(into: [StoredKind: String]()) { $0[$1.value] = $1.key }
        var header: [String: Any] = [:]
        var claims: [TensorChecksums.Claim] = []
        var offset = 0
        for e in entries {
            guard let dtype = names[e.kind] else {
                throw SlimError.invalidArgument("safetensors cannot store \(e.kind) tensor '\(e.name)'")
            }
            guard header[e.name] == nil, e.name != "__metadata__" else {
                throw SlimError.invalidArgument("tensor name '\(e.name)' is used twice")
            }
            guard e.kind.byteCount(shape: e.shape) == e.data.count else {
                throw SlimError.shapeMismatch(op: "write \(url.path)", detail: "tensor '\(e.name)' \(e.shape) \(e.kind) has \(e.data.count) bytes")
            }
            header[e.name] = ["dtype": dtype, "shape": e.shape, "data_offsets": [offset, offset + e.data.count]]
            claims.append(.init(name: e.name, kind: e.kind, shape: e.shape, offsets: offset..<offset + e.data.count))
            offset += e.data.count
        }
        // Checksums carried over from a file read earlier describe other bytes: these are recomputed.
        let plain = metadata.filter { !TensorChecksums.isChecksumKey($0.key) }
        header["__metadata__"] = plain.merging(TensorChecksums.record(metadata: plain, claims: claims, data: entries.map(\.data))) { $1 }
        var json = try JSONOutput.data(header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for e in entries { file.append(e.data) }
        try writeAtomically(file, to: url)
    }
}
