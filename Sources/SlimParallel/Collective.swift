import Foundation
import SlimCore

/// The ranks of a data-parallel job and the two exchanges Slim's jobs need.
/// Everything else (exact sums, agreement checks, splitting work) is built on
/// these two, so a new transport implements only them.
///
/// Every call is collective: every rank makes the same calls in the same order.
/// `step` names what the job is doing, for the error a timeout or a failed rank gives.
public protocol Collective: AnyObject, Sendable {
    /// This rank, 0..<size.
    var rank: Int { get }
    var size: Int { get }
    /// The elementwise sum over ranks. Integer addition is associative, so
    /// every rank receives the same bits whatever order the transport adds in.
    func allReduceSum(_ values: [Int64], step: String) throws -> [Int64]
    /// Every rank's `values` (the same count on every rank), in rank order.
    func allGather(_ values: [Double], step: String) throws -> [[Double]]
}

extension Collective {
    /// Rank 0 alone prints progress and writes files and checkpoints.
    public var isRoot: Bool { rank == 0 }

    /// This rank's share of `count` items split into `size` contiguous ranges
    /// (the first `count % size` ranks take one more): item `i` always goes to the same rank
    /// for a given size, and the concatenation over ranks is `0..<count` in order.
    public func share(of count: Int) -> Range<Int> { Self.share(of: count, rank: rank, size: size) }

    public static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// Every rank waits for the others.
    public func barrier(step: String) throws { _ = try allReduceSum([0], step: step) }

    /// Ends the job with an error naming the first rank whose `fingerprint` (a
    /// command line, a model's hash, a step count) differs from rank 0's: ranks
    /// that disagree would otherwise compute different things or wait forever on
    /// collectives the others never make.
    public func agree(on fingerprint: String, what: String) throws {
        guard size > 1 else { return }
        let mine = fingerprint.utf8.withContiguousStorageIfAvailable { XXHash64.hash(UnsafeRawBufferPointer($0)) }
            ?? Array(fingerprint.utf8).withUnsafeBytes { XXHash64.hash($0) }
        let all = try allGather([Double(bitPattern: mine)], step: "checking that every rank runs the same \(what)")
        if let other = all.indices.first(where: { all[$0][0].bitPattern != all[0][0].bitPattern }) {
            throw SlimError.collective(rank: other, ranks: size, step: "comparing \(what)",
                                       detail: "its \(what) differs from rank 0's (every rank must run the same \(what))")
        }
    }
}

/// One process, one rank: every exchange is the identity. The default everywhere, so a
/// job without MPI runs exactly as it did before ranks existed.
public final class SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ values: [Int64], step: String) throws -> [Int64] { values }
    public func allGather(_ values: [Double], step: String) throws -> [[Double]] { [values] }
}

/// How long a rank waits in one collective for the others before it ends the
/// job (`SLIM_COLLECTIVE_TIMEOUT` seconds, default 600: long enough for rank 0
/// to write a checkpoint or a block of a large model while the others wait).
public enum CollectiveTimeout {
    public static var seconds: Double {
        ProcessInfo.processInfo.environment["SLIM_COLLECTIVE_TIMEOUT"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 600
    }
}
