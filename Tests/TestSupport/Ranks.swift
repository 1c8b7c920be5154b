import Foundation
import SlimParallel

/// Runs `body` once per rank of a new ``ThreadCollective`` group of `size`, each rank on its own
/// thread (simulated ranks, issue 20), and returns each rank's result in rank order.
public func onRanks<T: Sendable>(_ size: Int, timeout: Double = 120,
                                 _ body: @escaping @Sendable (any Collective) throws -> T) -> [Result<T, any Error>] {
    let ranks = ThreadCollective.group(of: size, timeout: timeout)
    let box = RankResults<T>(size), done = DispatchGroup()
    for r in ranks {
        done.enter()
        Thread.detachNewThread {
            box.set(r.rank, Result { try body(r) })
            done.leave()
        }
    }
    done.wait()
    return box.all
}

final class RankResults<T: Sendable>: @unchecked Sendable {
    private var results: [Result<T, any Error>?]
    private let lock = NSLock()
    init(_ n: Int) { results = Array(repeating: nil, count: n) }
    func set(_ rank: Int, _ r: Result<T, any Error>) { lock.withLock { results[rank] = r } }
    var all: [Result<T, any Error>] { lock.withLock { results.map { $0! } } }
}
