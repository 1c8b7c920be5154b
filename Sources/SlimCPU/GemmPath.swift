import CPUKernels
import Foundation
import SlimCore
#if !canImport(Accelerate)
import CBLAS
#endif

/// Which fp32 GEMM the CPU backend runs, and why: Slim's own tiles
/// (cpu_gemm.c, chosen by CPUID features) or the platform BLAS.
///
/// A BLAS that picks its kernels from a table of CPU models can fall far below
/// what the CPU does: Debian's OpenBLAS 0.3.21 runs its SSE3 "Prescott"
/// kernels on Intel Xeons with AVX-512 it does not know (2–6x slower, issue
/// #19). Its choice cannot be corrected from here: `OPENBLAS_CORETYPE` is read
/// once, when the library loads, which for a linked library is before any of
/// our code runs. So the backend reads the core OpenBLAS picked, compares that
/// core's instruction set with the CPU's own features, and runs its own tiles
/// whenever the library's are narrower (or when it cannot tell).
public struct GemmPath: Sendable, Equatable, CustomStringConvertible {
    public enum Engine: String, Sendable, CaseIterable {
        /// Slim's register-blocked tiles (AVX-512 12×32, AVX2 6×16, portable 4×16).
        case own
        /// The platform BLAS (OpenBLAS on Linux, Accelerate on Apple platforms).
        case blas
    }

    /// The kernel level a GEMM tile set reaches (SLIM_GEMM_*, the same numbers as ``CPUBackend/ISA``).
    public enum Level: Int32, Sendable, Comparable, CustomStringConvertible {
        case portable = 0, avx2 = 1, avx512 = 2
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public var description: String { ["portable (SSE/NEON)", "AVX2+FMA", "AVX-512"][Int(rawValue)] }
    }

    public let engine: Engine
    /// Why this engine: the comparison made, or the override.
    public let reason: String
    /// The level Slim's own tiles run on this CPU (from its features).
    public let cpuLevel: Level
    /// The BLAS's own description: OpenBLAS's core name and build configuration; nil for Accelerate.
    public let blasCore: String?
    public let blasConfig: String?
    /// The level of the kernels the BLAS picked, nil when its core name is not one we know.
    public let blasLevel: Level?
    /// Set when the BLAS picked kernels below what the CPU supports (or ones we cannot place).
    public let warning: String?

    public var description: String {
        "fp32 GEMM: \(engine == .own ? "Slim's own \(cpuLevel) tiles" : "BLAS" + (blasCore.map { " (OpenBLAS core \($0))" } ?? "")) — \(reason)"
    }

    /// The level of the x86-64 kernels each OpenBLAS core uses (its kernel/x86_64
    /// KERNEL.<core> files): OpenBLAS's own core names, a short list that
    /// changes when OpenBLAS adds kernels, not when Intel or AMD ship a CPU.
    static func level(ofOpenBLASCore core: String) -> Level? {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": .avx512
        case "haswell", "zen", "excavator": .avx2
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "prescott", "core2", "penryn", "dunnington",
             "nehalem", "atom", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "nano", "katmai",
             "coppermine", "northwood", "banias":
            .portable
        default: nil
        }
    }

    /// The choice, from the CPU's level (its features), what the BLAS says it
    /// picked, and an override (`SLIM_GEMM=own|blas`). Pure, so tests can
    /// inject any CPU and any BLAS.
    public static func choose(cpuLevel: Level, blasCore: String?, blasConfig: String? = nil, override: String?,
                              isX86: Bool = true) throws(SlimError) -> GemmPath {
        let blasLevel = blasCore.flatMap(level(ofOpenBLASCore:))
        var warning: String?
        if let core = blasCore, isX86 {
            if let have = blasLevel, have < cpuLevel {
                warning = "OpenBLAS picked its \(core) kernels (\(have)) on a CPU with \(cpuLevel): its table does not know this CPU"
            } else if blasLevel == nil {
                warning = "OpenBLAS core '\(core)' is not one Slim knows; cannot tell whether its kernels suit this CPU"
            }
        }
        func path(_ engine: Engine, _ reason: String) -> GemmPath {
            GemmPath(engine: engine, reason: reason, cpuLevel: cpuLevel, blasCore: blasCore, blasConfig: blasConfig,
                     blasLevel: blasLevel, warning: warning)
        }
        if let override, !override.isEmpty {
            guard let forced = Engine(rawValue: override) else {
                throw .invalidArgument("SLIM_GEMM='\(override)': expected 'own' or 'blas'")
            }
            return path(forced, "SLIM_GEMM=\(override) set")
        }
        guard let core = blasCore else {
            return path(.blas, "the platform BLAS (Accelerate) selects its kernels by CPU features")
        }
        guard isX86 else {
            return path(.blas, "OpenBLAS core \(core) on ARM64 uses NEON (Slim's ARM tile is the portable one)")
        }
        guard let have = blasLevel else {
            return path(.own, "OpenBLAS core '\(core)' is unknown, so Slim's own \(cpuLevel) tiles run")
        }
        if have < cpuLevel {
            return path(.own, "OpenBLAS's \(core) kernels are \(have), below this CPU's \(cpuLevel); Slim's own tiles run")
        }
        return path(.blas, "OpenBLAS's \(core) kernels are \(have), this CPU's level (measured on par with Slim's own tiles, ahead at M ≤ 64)")
    }

    /// The path of this process: this CPU, the linked BLAS, `SLIM_GEMM` (an
    /// unknown value stops the first GEMM with its error, rather than being ignored).
    public static let current: Result<GemmPath, SlimError> = {
        let level = thisCPU
        #if canImport(Accelerate)
        let (core, config): (String?, String?) = (nil, nil)
        #else
        let (core, config): (String?, String?) = (openblas_get_corename().map { String(cString: $0) },
                                                  openblas_get_config().map { String(cString: $0) })
        #endif
        #if arch(x86_64)
        let x86 = true
        #else
        let x86 = false
        #endif
        return Result { () throws(SlimError) in
            try choose(cpuLevel: level, blasCore: core, blasConfig: config,
                       override: ProcessInfo.processInfo.environment["SLIM_GEMM"], isX86: x86)
        }
    }()

    /// The level Slim's own tiles reach on this CPU (its CPUID features).
    public static var thisCPU: Level { Level(rawValue: slim_gemm_best_level()) ?? .portable }

    /// The GEMM level a CPU with these features gets (the C rule, for tests that inject a CPU).
    public static func level(avx512f: Bool, avx2: Bool, fma: Bool) -> Level {
        Level(rawValue: slim_gemm_level_for(avx512f ? 1 : 0, avx2 ? 1 : 0, fma ? 1 : 0)) ?? .portable
    }
}
