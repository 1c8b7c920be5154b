import Dispatch
import Synchronization
import Testing
@testable import SlimCPU

/// The CPU backend's worker pool: every item of every call runs exactly once,
/// whether calls come one after another (the pool's fast path), from many
/// threads at once, or from inside a chunk (both fall back to Dispatch).
@Suite struct ParallelChunksTests {
    /// Runs `parallelChunks` over `count` items and returns how often each ran.
    private func visits(_ count: Int, grain: Int, nested: Bool = false) -> [Int] {
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0)
        nonisolated(unsafe) let shared = hits
        parallelChunks(count, grain: grain) { range in
            if nested {
                // A chunk splitting its own range again: the inner call cannot take the busy pool.
                let inner = Mutex([Int]())
                parallelChunks(range.count, grain: 1) { sub in inner.withLock { $0 += sub.map { range.lowerBound + $0 } } }
                for i in inner.withLock({ $0 }) { shared[i] += 1 }
            } else {
                for i in range { shared[i] += 1 }
            }
        }
        return Array(hits)
    }

    @Test func everyItemOnceInBackToBackCalls() {
        for round in 0..<500 {
            let count = 1 + (round * 37) % 1000
            #expect(visits(count, grain: 1 + round % 7) == Array(repeating: 1, count: count), "round \(round), \(count) items")
        }
    }

    @Test func everyItemOnceFromConcurrentCallers() {
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 64) { caller in
            for round in 0..<20 {
                let count = 97 + caller * 13 + round
                if visits(count, grain: 3) != Array(repeating: 1, count: count) { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test func everyItemOnceFromNestedCalls() {
        #expect(visits(777, grain: 50, nested: true) == Array(repeating: 1, count: 777))
    }
}
