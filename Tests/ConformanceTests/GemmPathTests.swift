import SlimCore
import SlimCPU
import Testing

/// The fp32 GEMM engine is chosen from the CPU's features and what the BLAS
/// says it picked, never from a table of CPU models: checked here on injected
/// CPUs and BLAS cores, since the machine running the tests is only one of them.
@Suite struct GemmPathSelection {
    @Test func featuresGiveTheLevel() {
        #if arch(x86_64)
        #expect(GemmPath.level(avx512f: true, avx2: true, fma: true) == .avx512)
        #expect(GemmPath.level(avx512f: false, avx2: true, fma: true) == .avx2)
        #expect(GemmPath.level(avx512f: false, avx2: true, fma: false) == .portable)  // AVX2 without FMA: no FMA tiles
        #expect(GemmPath.level(avx512f: false, avx2: false, fma: false) == .portable)
        #else
        #expect(GemmPath.level(avx512f: true, avx2: true, fma: true) == .portable)  // off x86-64 the tile is plain C
        #endif
    }

    /// The Xeon of issue #19: AVX-512, OpenBLAS 0.3.21 picked Prescott.
    @Test func aBLASBelowTheCPUIsWarnedAboutAndNotUsed() throws {
        let path = try GemmPath.choose(cpuLevel: .avx512, blasCore: "Prescott", override: nil)
        #expect(path.engine == .own)
        #expect(path.blasLevel == .portable)
        #expect(path.warning == "OpenBLAS picked its Prescott kernels (portable (SSE/NEON)) on a CPU with AVX-512: its table does not know this CPU")
        #expect(path.reason.contains("below this CPU's AVX-512"))
        for core in ["Sandybridge", "Haswell", "Zen", "Nehalem", "Core2"] {
            #expect(try GemmPath.choose(cpuLevel: .avx512, blasCore: core, override: nil).engine == .own, "\(core)")
        }
        #expect(try GemmPath.choose(cpuLevel: .avx2, blasCore: "Sandybridge", override: nil).engine == .own)
    }

    @Test func aBLASAtTheCPUsLevelIsUsedWithoutWarning() throws {
        for (level, core) in [(GemmPath.Level.avx512, "Cooperlake"), (.avx512, "SkylakeX"), (.avx2, "Haswell"), (.avx2, "Zen"),
                              (.avx2, "SkylakeX"), (.portable, "Prescott")] {
            let path = try GemmPath.choose(cpuLevel: level, blasCore: core, override: nil)
            #expect(path.engine == .blas, "\(core) on \(level)")
            #expect(path.warning == nil, "\(core) on \(level)")
        }
    }

    @Test func anUnknownCoreRunsOwnTilesWithAWarning() throws {
        let path = try GemmPath.choose(cpuLevel: .avx2, blasCore: "Diamondrapids", override: nil)
        #expect(path.engine == .own)
        #expect(path.blasLevel == nil)
        #expect(path.warning?.contains("'Diamondrapids' is not one Slim knows") == true)
    }

    @Test func accelerateAndARMKeepTheirBLAS() throws {
        #expect(try GemmPath.choose(cpuLevel: .portable, blasCore: nil, override: nil).engine == .blas)
        let arm = try GemmPath.choose(cpuLevel: .portable, blasCore: "NEOVERSEN1", override: nil, isX86: false)
        #expect(arm.engine == .blas)
        #expect(arm.warning == nil)
    }

    @Test func theOverrideWinsButTheWarningStays() throws {
        let blas = try GemmPath.choose(cpuLevel: .avx512, blasCore: "Prescott", override: "blas")
        #expect(blas.engine == .blas)
        #expect(blas.reason == "SLIM_GEMM=blas set")
        #expect(blas.warning != nil)
        #expect(try GemmPath.choose(cpuLevel: .avx512, blasCore: "Cooperlake", override: "own").engine == .own)
        #expect(throws: SlimError.invalidArgument("SLIM_GEMM='fast': expected 'own' or 'blas'")) {
            try GemmPath.choose(cpuLevel: .avx512, blasCore: "Cooperlake", override: "fast")
        }
    }

    /// This machine's choice agrees with its own features and its BLAS.
    @Test func thisMachinesChoiceFollowsTheRule() throws {
        let path = try GemmPath.current.get()
        print("this machine: \(path)" + (path.warning.map { "; warning: \($0)" } ?? ""))
        #expect(path.cpuLevel == GemmPath.thisCPU)
        let again = try GemmPath.choose(cpuLevel: path.cpuLevel, blasCore: path.blasCore, override: nil)
        if !path.reason.hasPrefix("SLIM_GEMM") { #expect(again.engine == path.engine) }
    }
}
