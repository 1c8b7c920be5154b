import CPUKernels
import Dispatch
import Foundation
import SlimCore

/// Splits `0..<count` into contiguous chunks of at least `grain` items and runs
/// them on every core. Small work runs inline: even a spinning worker costs a
/// cache-line round trip.
func parallelChunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let cores = CPUInfo.current.cores
    let chunks = min(cores * 4, (count + grain - 1) / max(grain, 1))
    if chunks <= 1 { body(0..<count); return }
    let per = (count + chunks - 1) / chunks
    var paths: UInt32 = 0
    withoutActuallyEscaping(body) { body in
        withUnsafeMutablePointer(to: &paths) { paths in
            // The chunks write disjoint ranges, and both runners return only when
            // every chunk has finished, so sharing the closure is safe.
            var job = ChunkedJob(count: count, per: per, body: body, paths: paths)
            let ran = !spinningPool ? 0 : withUnsafeMutablePointer(to: &job) { job in
                slim_pool_run(Int32(cores), Int32(chunks), { context, chunk in
                    context!.assumingMemoryBound(to: ChunkedJob.self).pointee.run(Int(chunk))
                }, job)
            }
            // The pool serves one job at a time; a concurrent or nested caller
            // (tests run in parallel; a chunk may itself split work) uses Dispatch.
            if ran == 0 {
                nonisolated(unsafe) let job = job
                DispatchQueue.concurrentPerform(iterations: chunks) { job.run($0) }
            }
        }
    }
    // What the chunks' kernels ran becomes the calling thread's record (see KernelPaths).
    slim_paths_add(paths)
}

/// `SLIM_THREAD_SPIN=0` runs every parallel op through Dispatch, whose threads
/// sleep between jobs: slower for back-to-back small products (decoding), kinder
/// to other processes on a shared machine (as onnxruntime's allow_spinning = 0).
private let spinningPool = ProcessInfo.processInfo.environment["SLIM_THREAD_SPIN"] != "0"

/// The chunks of one `parallelChunks` call, reached by the C pool through a pointer.
private struct ChunkedJob {
    let count: Int, per: Int
    let body: (Range<Int>) -> Void
    /// The kernel paths the chunks noted, gathered from every thread that ran one.
    let paths: UnsafeMutablePointer<UInt32>

    func run(_ chunk: Int) {
        let lo = chunk * per, hi = min(count, lo + per)
        guard lo < hi else { return }
        // Set aside this thread's own record (the caller's, when the caller runs
        // a chunk), so that only this chunk's paths go to the job's.
        let outer = slim_paths_take()
        body(lo..<hi)
        slim_paths_merge(paths, slim_paths_take())
        slim_paths_add(outer)
    }
}
