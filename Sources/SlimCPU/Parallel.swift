import Dispatch
import SlimCore

/// Splits `0..<count` into contiguous chunks of at least `grain` items and runs
/// them on every core. Small work runs inline: a dispatch costs microseconds.
func parallelChunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let cores = CPUInfo.current.cores
    let chunks = min(cores * 4, (count + grain - 1) / max(grain, 1))
    if chunks <= 1 { body(0..<count); return }
    let per = (count + chunks - 1) / chunks
    // The chunks write disjoint ranges, and concurrentPerform returns only
    // when every chunk has finished, so sharing the closure is safe.
    nonisolated(unsafe) let body = body
    DispatchQueue.concurrentPerform(iterations: chunks) { i in
        let lo = i * per, hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}
