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
/// (what ARM runs) are tested at all; the OpenCL device with the row in force
/// on it; and, on that same device, every other shipped row of
/// Kernels/tuning.json as shipped, so the GPU rows' kernels (local-memory
/// tiles, 256-wide row reductions, vendor GEMV widths) run on PoCL with the
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
        for (label, tuning) in rowsToRun(on: device) {
            if let b = try? OpenCLBackend(device: device, tuning: tuning) { list.append(Subject(name: label, backend: b)) }
        }
        return list
    }()

    static var openCL: [Subject] { all.filter { $0.backend.id.kind == .opencl } }

    /// "opencl" with the device's row in force, then "opencl-NAME-row" for every
    /// shipped row whose shapes differ from it (an empty list if the table does not load).
    static func rowsToRun(on device: OpenCLDevice) -> [(String, DeviceTuning)] {
        guard let own = try? DeviceTuning.lookup(device), let shipped = try? DeviceTuning.named else { return [] }
        return [("opencl", own)] + shipped.filter { !$0.tuning.sameShapes(as: own) }.map { ("opencl-\($0.name)-row", $0.tuning) }
    }
    /// For tests that need an OpenCL device: skipped (and reported so) rather than passed without one.
    static let needsOpenCL = ConditionTrait.enabled(if: !openCL.isEmpty, "needs an OpenCL device")
}

@Suite struct DevicePresence {
    @Test func openCLDeviceIsPresentWhenRequired() {
        if Subjects.requireOpenCL {
            #expect(Subjects.openCLDevice != nil, "SLIM_REQUIRE_OPENCL=1 but no OpenCL device was found (is pocl-opencl-icd installed?)")
            let rows = Subjects.rowsToRun(on: Subjects.openCLDevice!)
            #expect(rows.count >= 2 && Subjects.openCL.count == rows.count,
                    "the OpenCL device was found but a backend could not be opened on it under every row")
        }
    }

    /// Every shipped row runs exactly as shipped, not a shrunken copy of it:
    /// the OpenCL subjects cover every row of the table (the one in force may be a tuned one).
    @Test(Subjects.needsOpenCL) func everyShippedRowRunsAsShipped() throws {
        let device = try #require(Subjects.openCLDevice)
        let tunings = Subjects.openCL.compactMap { ($0.backend as? OpenCLBackend)?.tuning }
        #expect(tunings.first == (try DeviceTuning.lookup(device)))
        for (name, row) in try DeviceTuning.named {
            #expect(tunings.contains { $0.sameShapes(as: row) }, "shipped row \(name) is run")
        }
        #expect(try DeviceTuning.named.contains { $0.name == "gpu" } && DeviceTuning.named.contains { $0.name == "cpu" })
    }
}
