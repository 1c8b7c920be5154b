import ArgumentParser
import Foundation
import SlimCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark an op on one or more backends (release builds: swift run -c release slim bench …).",
        subcommands: [BenchGemm.self, BenchQGemm.self, BenchEmbed.self, BenchAttention.self, BenchDistill.self])
}

/// Times `body` (which must wait for its own completion): `warmup` untimed
/// runs, then the median of `runs` timed ones, in milliseconds.
func medianMilliseconds(warmup: Int, runs: Int, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
}

/// One benchmark result: the fields every `slim bench` JSON row carries.
func benchRecord(_ backend: any Backend, op: String, shape: String, ms: Double, flops: Double, bytes: Double,
                 runs: Int) -> [String: Any] {
    let gflops = flops / (ms / 1e3) / 1e9
    return [
        "backend": backend.id.kind.rawValue, "device": backend.id.name, "op": op, "shape": shape,
        "median_ms": ms, "gflops": gflops, "gbps": bytes / (ms / 1e3) / 1e9,
        "peak_gflops": backend.peakGFLOPS, "pct_peak": 100 * gflops / backend.peakGFLOPS, "runs": runs,
    ]
}

/// The human-readable line of a benchmark record.
func benchLine(_ r: [String: Any]) -> String {
    let backend = (r["backend"] as! String).padding(toLength: 7, withPad: " ", startingAt: 0)
    let op = "\(r["op"]!) \(r["shape"]!)".padding(toLength: 36, withPad: " ", startingAt: 0)
    return backend + op + String(format: "%9.3f ms %8.1f GFLOP/s %7.1f GB/s %6.1f%% of %.0f GFLOP/s peak",
                                 r["median_ms"] as! Double, r["gflops"] as! Double, r["gbps"] as! Double,
                                 r["pct_peak"] as! Double, r["peak_gflops"] as! Double)
}
