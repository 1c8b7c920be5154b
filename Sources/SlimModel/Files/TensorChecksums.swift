import Foundation
import SlimCore

/// Slim's integrity record in a safetensors header: an xxh64 of each tensor's
/// bytes and one of the header's own claims (metadata, names, dtypes, shapes,
/// offsets), as strings in `__metadata__`: the one place the format leaves for
/// extra data, and one other readers ignore, so the files stay plain
/// safetensors for transformers and the rest.
///
/// A tensor is checked when it is first read from an open file, not when the
/// file is opened: a model streamed block by block pays only for what it
/// reads, and a flipped bit is refused by its tensor's name instead of
/// surfacing later as NaNs. Files without the record (Hugging Face
/// checkpoints) are read as they are.
final class TensorChecksums: @unchecked Sendable {
    // @unchecked: `verified` is only touched under `lock`; the rest is immutable.
    static let tensorPrefix = "slim.xxh64:"
    static let headerKey = "slim.xxh64.header"

    static func isChecksumKey(_ key: String) -> Bool { key == headerKey || key.hasPrefix(tensorPrefix) }

    /// What the header says about one tensor; offsets count from the start of the data section.
    struct Claim {
        let name: String, kind: StoredKind, shape: [Int], offsets: Range<Int>
    }

    /// The keys a writer adds to `metadata` (which must hold none of them) for
    /// tensors `claims` whose bytes hash to `digests` (``digest(_:)``).
    static func record(metadata: [String: String], claims: [Claim], digests: [UInt64]) -> [String: String] {
        var keys = [headerKey: hex(headerDigest(metadata: metadata, claims: claims))]
        for (c, digest) in zip(claims, digests) { keys[tensorPrefix + c.name] = hex(digest) }
        return keys
    }

    /// The checksum of a tensor's bytes, taken by a writer as they pass.
    static func digest(_ bytes: Data) -> UInt64 { bytes.withUnsafeBytes(XXHash64.hash) }

    /// The metadata and tensors in one canonical text (sorted, NUL-separated), so
    /// writer and reader hash the same bytes however the JSON was spelled.
    private static func headerDigest(metadata: [String: String], claims: [Claim]) -> UInt64 {
        var text = ""
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { text += "\(key)\0\(value)\0" }
        for c in claims.sorted(by: { $0.name < $1.name }) {
            text += "\(c.name)\0\(c.kind.rawValue)\0\(c.shape.map(String.init).joined(separator: ","))\0\(c.offsets.lowerBound)\0\(c.offsets.upperBound)\0"
        }
        return Array(text.utf8).withUnsafeBytes(XXHash64.hash)
    }

    private static func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    let path: String
    private let expected: [String: UInt64]
    private let lock = NSLock()
    private var verified: Set<String> = []

    /// Splits a file's `__metadata__` into its own entries and Slim's record,
    /// checks the header against the record, and returns the checker for its
    /// tensors (nil when the file has no record).
    static func read(metadata all: [String: String], claims: [Claim], path: String) throws -> (metadata: [String: String], checksums: TensorChecksums?) {
        let metadata = all.filter { !isChecksumKey($0.key) }
        guard metadata.count < all.count else { return (metadata, nil) }
        func bad(_ what: String) -> SlimError { .malformedFile(path: path, detail: what) }
        func recorded(_ key: String, of what: String) throws -> UInt64 {
            guard let text = all[key] else { throw bad("\(what) has no checksum, though the file records them: the header is damaged") }
            guard text.utf8.count == 16, let v = UInt64(text, radix: 16) else {
                throw bad("the checksum of \(what) is '\(text)', not 16 hex digits: the header is damaged")
            }
            return v
        }
        guard try recorded(headerKey, of: "the header") == headerDigest(metadata: metadata, claims: claims) else {
            throw bad("the header (metadata, tensor names, dtypes, shapes or offsets) does not match its checksum: the file is corrupt")
        }
        var expected: [String: UInt64] = [:]
        for c in claims { expected[c.name] = try recorded(tensorPrefix + c.name, of: "tensor '\(c.name)'") }
        if let stray = all.keys.first(where: { $0.hasPrefix(tensorPrefix) && expected[String($0.dropFirst(tensorPrefix.count))] == nil }) {
            throw bad("checksum '\(stray)' names no tensor of the file")
        }
        return (metadata, TensorChecksums(path: path, expected: expected))
    }

    private init(path: String, expected: [String: UInt64]) {
        self.path = path
        self.expected = expected
    }

    /// Throws unless `bytes`, tensor `t`'s data, hash to what the header records; each tensor is hashed once.
    func verify(_ t: StoredTensor, bytes: UnsafeRawBufferPointer) throws {
        if lock.withLock({ verified.contains(t.name) }) { return }
        let actual = XXHash64.hash(bytes)
        guard let recorded = expected[t.name], recorded == actual else {
            throw SlimError.malformedFile(path: path, detail: "tensor '\(t.name)' does not match its checksum (xxh64 \(Self.hex(actual)), "
                                          + "recorded \(expected[t.name].map(Self.hex) ?? "none")): its bytes changed on disk, the file is corrupt")
        }
        lock.withLock { _ = verified.insert(t.name) }
    }
}
