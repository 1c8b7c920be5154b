import ArgumentParser
import Foundation
import SlimCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark an op on one or more backends (release builds: swift run -c release slim bench …).",
        subcommands: [BenchGemm.self])
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
