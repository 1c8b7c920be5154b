import CPUProbe
import Dispatch
import Foundation

/// What the CPU backend runs on: cores, vector width and an fp32 peak estimate.
public struct CPUInfo: Sendable {
    public let model: String
    public let cores: Int
    /// fp32 lanes of the widest vector unit the CPU reports (16 with AVX-512, 8 with AVX2, 4 with NEON/SSE).
    public let simdLanes: Int
    public let clockGHz: Double

    /// Two FMA pipes per core, each `simdLanes` wide, two flops per FMA, at the
    /// nominal clock: true of the x86 server cores and a fair estimate elsewhere.
    public var nominalPeakGFLOPS: Double { Double(cores) * 2 * Double(simdLanes) * 2 * clockGHz }

    /// The fp32 peak for "% of peak": every core running 256-bit FMAs at once,
    /// measured (about 20 ms, once per process, best taken before other work
    /// loads the cores: see ``measurePeak()``) so that boost clocks count; the
    /// nominal figure where the probe cannot run, or where it is higher
    /// (AVX-512 cores, which the 256-bit probe undercounts).
    public var peakGFLOPS: Double { max(Self.measuredPeakGFLOPS, nominalPeakGFLOPS) }

    /// Runs the peak probe now, while the cores are idle, rather than when a
    /// benchmark first asks for "% of peak".
    public static func measurePeak() { _ = measuredPeakGFLOPS }

    static let measuredPeakGFLOPS: Double = {
        let cores = CPUInfo.current.cores
        let perCore = UnsafeMutableBufferPointer<Double>.allocate(capacity: cores)
        defer { perCore.deallocate() }
        nonisolated(unsafe) let results = perCore
        DispatchQueue.concurrentPerform(iterations: cores) { i in
            _ = slim_probe_fma_flops(200_000)  // warm the core up to its boost clock
            // Best of three: a probe that shares its core with another thread reads low.
            results[i] = (0..<3).map { _ in slim_probe_fma_flops(1_000_000) }.max()!
        }
        return perCore.reduce(0, +) / 1e9
    }()

    public static let current = CPUInfo.read()

    private static func read() -> CPUInfo {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            // Not Linux: Apple silicon has 4 128-bit FMA pipes; count them as 2x8 lanes.
            return CPUInfo(model: "unknown", cores: cores, simdLanes: 8, clockGHz: 3.0)
        }
        func field(_ name: String) -> [String] {
            text.split(separator: "\n").filter { $0.hasPrefix(name) }
                .compactMap { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } }
        }
        let flags = Set((field("flags").first ?? "").split(separator: " ").map(String.init))
        let lanes = flags.contains("avx512f") ? 16 : flags.contains("avx2") ? 8 : 4
        let mhz = field("cpu MHz").compactMap(Double.init).max() ?? 3000
        return CPUInfo(model: field("model name").first ?? "unknown", cores: cores, simdLanes: lanes, clockGHz: mhz / 1000)
    }
}
