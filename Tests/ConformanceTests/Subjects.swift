import Foundation
import SlimConformance
import SlimCore
import SlimCPU
@testable import SlimOpenCL
import Testing

/// A backend under test, with a name for the test report.
struct Subject: Sendable, CustomTestStringConvertible {
    let name: String
    let backend: any Backend
    var testDescription: String { name }

    /// For a CPU subject, the level its kernels may run: its limit, capped by
    /// what this CPU has (nil for OpenCL).
    var cpuLevel: CPUBackend.ISA? { (backend as? CPUBackend).map { min($0.isa, .best) } }

    /// For a CPU subject, the level Slim's own GEMM tiles run at (nil: OpenCL,
    /// or this subject's GEMM is the BLAS). AVX-512 F suffices for them, so
    /// this can exceed ``cpuLevel`` on a CPU without VNNI.
    var ownGemmLevel: CPUBackend.ISA? {
        guard let cpu = backend as? CPUBackend, (try? cpu.gemmEngine()) == .own else { return nil }
        return CPUBackend.ISA(rawValue: min(cpu.isa.rawValue, GemmPath.thisCPU.rawValue))
    }
}

/// Every backend the suite runs on: the CPU backend at each of its kernels'
/// instruction-set levels (AVX-512 VNNI where the CPU has it, AVX2, plain C),
/// so the fallbacks stay tested on a VNNI machine and the plain-C kernels
/// (what ARM runs) are tested at all; the OpenCL device with its own tuning
/// row; and, on that same device, the other row as shipped, so the GPU row's
/// kernels (local-memory tiles, 256-wide row reductions) run on PoCL with the
/// very build options and work-group sizes a GPU gets.
enum Subjects {
    static let openCLDevice: OpenCLDevice? = try? OpenCLBackend.preferredDevice()
    static let requireOpenCL = ProcessInfo.processInfo.environment["SLIM_REQUIRE_OPENCL"] == "1"

    static let all: [Subject] = {
        // The fp32 GEMM: "cpu" runs the engine this machine chose (GemmPath),
        // one more subject the other engine at the same level, and the lower
        // levels Slim's own tiles at that level, so both engines and every
        // tile stay tested whichever this machine picks.
        let chosen = (try? GemmPath.current.get().engine) ?? .own
        let otherGemm: GemmPath.Engine = chosen == .own ? .blas : .own
        var list = [Subject(name: "cpu", backend: CPUBackend()),
                    Subject(name: "cpu-gemm-\(otherGemm)", backend: CPUBackend(gemm: otherGemm)),
                    Subject(name: "cpu-avx2", backend: CPUBackend(isa: .avx2, gemm: .own)),
                    Subject(name: "cpu-portable", backend: CPUBackend(isa: .portable, gemm: .own))]
        guard let device = openCLDevice else {
            print("note: no OpenCL device, OpenCL conformance skipped" + (requireOpenCL ? " (and SLIM_REQUIRE_OPENCL=1 fails the suite)" : ""))
            return list
        }
        let own = DeviceTuning.lookup(device)
        let other = own == .cpu ? DeviceTuning.gpu : DeviceTuning.cpu
        for (label, tuning) in [("opencl", own), ("opencl-" + (other == .gpu ? "gpu-row" : "cpu-row"), other)] {
            if let b = try? OpenCLBackend(device: device, tuning: tuning) { list.append(Subject(name: label, backend: b)) }
        }
        return list
    }()

    static var openCL: [Subject] { all.filter { $0.backend.id.kind == .opencl } }
    /// For tests that need an OpenCL device: skipped (and reported so) rather than passed without one.
    static let needsOpenCL = ConditionTrait.enabled(if: !openCL.isEmpty, "needs an OpenCL device")
}

@Suite struct DevicePresence {
    @Test func openCLDeviceIsPresentWhenRequired() {
        if Subjects.requireOpenCL {
            #expect(Subjects.openCLDevice != nil, "SLIM_REQUIRE_OPENCL=1 but no OpenCL device was found (is pocl-opencl-icd installed?)")
            #expect(Subjects.openCL.count == 2, "the OpenCL device was found but a backend could not be opened on it")
        }
    }

    /// The second OpenCL subject runs the other tuning row exactly as shipped,
    /// not a shrunken copy of it.
    @Test(Subjects.needsOpenCL) func theOtherTuningRowRunsAsShipped() throws {
        let device = try #require(Subjects.openCLDevice)
        let own = DeviceTuning.lookup(device)
        let tunings = Subjects.openCL.compactMap { ($0.backend as? OpenCLBackend)?.tuning }
        #expect(tunings == [own, own == .cpu ? DeviceTuning.gpu : DeviceTuning.cpu])
    }
}
