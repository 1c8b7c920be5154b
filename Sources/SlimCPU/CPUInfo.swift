import Foundation

/// What the CPU backend runs on: cores, vector width and an fp32 peak estimate.
public struct CPUInfo: Sendable {
    public let model: String
    public let cores: Int
    /// fp32 lanes of the widest vector unit the CPU reports (16 with AVX-512, 8 with AVX2, 4 with NEON/SSE).
    public let simdLanes: Int
    public let clockGHz: Double

    /// Two FMA pipes per core, each `simdLanes` wide, two flops per FMA: true of
    /// the x86 server cores (Zen 3/4/5, Skylake-SP and later) and a fair estimate elsewhere.
    public var peakGFLOPS: Double { Double(cores) * 2 * Double(simdLanes) * 2 * clockGHz }

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
