import CHash

/// SHA-256 (FIPS 180-4), for content-addressed caches (compiled kernels,
/// downloaded assets) and the checksums of source checkpoints in model cards.
/// The compression function is C (`CHash`) and uses the x86 SHA extensions
/// where the CPU has them (5x the portable code): hashing a 14 GB checkpoint
/// then costs seconds, not minutes. Not constant-time, which a checksum does not need.
public struct SHA256: Sendable {
    /// Which compression function runs; tests compare the two.
    public enum Path: Int32, Sendable, CaseIterable {
        case portable = 0, shaExtensions = 1
        /// The fastest this CPU has.
        public static let best = Path(rawValue: slim_sha256_best_path()) ?? .portable
    }

    private var state: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    /// Fewer than 64 bytes waiting for the rest of their block.
    private var pending: [UInt8] = []
    private var length: UInt64 = 0
    private let path: Path

    public init(path: Path = .best) {
        self.path = path
        pending.reserveCapacity(64)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var count = bytes.count
        length &+= UInt64(count)
        if !pending.isEmpty {
            let take = min(64 - pending.count, count)
            pending.append(contentsOf: UnsafeBufferPointer(start: base, count: take))
            base += take
            count -= take
            guard pending.count == 64 else { return }
            compress(pending, blocks: 1)
            pending.removeAll(keepingCapacity: true)
        }
        let whole = count / 64
        if whole > 0 { compress(UnsafeBufferPointer(start: base, count: whole * 64), blocks: whole) }
        pending.append(contentsOf: UnsafeBufferPointer(start: base + whole * 64, count: count - whole * 64))
    }

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    public mutating func update(_ text: String) { update(Array(text.utf8)) }

    public consuming func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail: [UInt8] = [0x80]
        while (pending.count + tail.count) % 64 != 56 { tail.append(0) }
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        update(tail)
        return state.flatMap { w in (0..<4).reversed().map { UInt8(truncatingIfNeeded: w >> (UInt32($0) * 8)) } }
    }

    /// The lowercase hex digest of `bytes`.
    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var h = SHA256()
        h.update(bytes)
        return h.hexDigest()
    }

    /// The lowercase hex digest of everything given to ``update(_:)``.
    public consuming func hexDigest() -> String {
        finalize().map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    private mutating func compress<Bytes: Collection<UInt8>>(_ bytes: Bytes, blocks: Int) {
        let path = path.rawValue
        state.withUnsafeMutableBufferPointer { s in
            _ = bytes.withContiguousStorageIfAvailable { slim_sha256_blocks(s.baseAddress, $0.baseAddress, blocks, path) }
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
