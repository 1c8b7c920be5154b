import Foundation
import SlimCore

/// Ranks as threads of one process: the devices of one machine driven side by
/// side (a replica per device), and N simulated ranks in tests. Results are
/// combined in rank order, as the MPI transport's integer sums make order irrelevant.
public final class ThreadCollective: Collective, @unchecked Sendable {
    public let rank: Int
    public var size: Int { group.size }
    let group: ThreadGroup

    /// One collective per rank of a new group of `size` ranks.
    public static func group(of size: Int, timeout: Double = CollectiveTimeout.seconds) -> [ThreadCollective] {
        let group = ThreadGroup(size: size, timeout: timeout)
        return (0..<size).map { ThreadCollective(rank: $0, group: group) }
    }

    init(rank: Int, group: ThreadGroup) { (self.rank, self.group) = (rank, group) }

    public func allReduceSum(_ values: [Int64], step: String) throws -> [Int64] {
        let all = try group.exchange(rank: rank, values, step: step)
        guard all.allSatisfy({ $0.count == values.count }) else {
            throw SlimError.collective(rank: rank, ranks: size, step: step, detail: "ranks summed arrays of different lengths \(all.map(\.count))")
        }
        var sum = all[0]
        for other in all.dropFirst() { for i in sum.indices { sum[i] &+= other[i] } }
        return sum
    }

    public func allGather(_ values: [Double], step: String) throws -> [[Double]] {
        try group.exchange(rank: rank, values, step: step)
    }

    /// This rank stops with `error`: the others' exchanges, now and later, throw at once naming
    /// this rank, instead of waiting out the timeout for a rank that will never arrive.
    public func abandon(because error: any Error) { group.fail(rank: rank, error) }

    /// The first rank of the group that abandoned it, and why.
    public var failure: (rank: Int, error: any Error)? { group.failure }
}

/// The rendezvous of a thread group: each rank leaves its contribution and
/// waits until every rank has left one (or the timeout passes).
final class ThreadGroup: @unchecked Sendable {
    let size: Int, timeout: Double
    private let condition = NSCondition()
    private var deposits: [Any?], arrived = 0, generation = 0, result: [Any] = []
    private var failed: (rank: Int, error: any Error)?

    init(size: Int, timeout: Double) {
        (self.size, self.timeout) = (size, timeout)
        deposits = Array(repeating: nil, count: size)
    }

    var failure: (rank: Int, error: any Error)? { condition.withLock { failed } }

    func fail(rank: Int, _ error: any Error) {
        condition.withLock {
            if failed == nil { failed = (rank, error) }
            condition.broadcast()
        }
    }

    func exchange<T>(rank: Int, _ value: T, step: String) throws -> [T] {
        condition.lock()
        defer { condition.unlock() }
        func abandoned() -> SlimError? {
            failed.map { SlimError.collective(rank: $0.rank, ranks: size, step: step, detail: "it stopped with an error: \($0.error)") }
        }
        if let error = abandoned() { throw error }
        let mine = generation
        deposits[rank] = value
        arrived += 1
        if arrived == size {
            result = deposits.map { $0! }
            deposits = Array(repeating: nil, count: size)
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            let deadline = Date(timeIntervalSinceNow: timeout)
            while generation == mine {
                if let error = abandoned() { throw error }
                if !condition.wait(until: deadline) && generation == mine {
                    let missing = deposits.indices.filter { deposits[$0] == nil }
                    throw SlimError.collective(rank: missing.first ?? rank, ranks: size, step: step,
                                               detail: "did not arrive within \(timeout) s (ranks waiting: \(deposits.indices.filter { deposits[$0] != nil }))")
                }
            }
        }
        // A later exchange cannot replace `result` before this rank has read it: it needs this rank's deposit.
        guard let typed = result as? [T] else {
            throw SlimError.collective(rank: rank, ranks: size, step: step, detail: "ranks exchanged different kinds of values")
        }
        return typed
    }
}
