import Foundation
import SlimCore
import SlimCPU
@testable import SlimOpenCL
import Testing

/// A backend under test, with a name for the test report.
struct Subject: Sendable, CustomTestStringConvertible {
    let name: String
    let backend: any Backend
    var testDescription: String { name }
}

/// Every backend the suite runs on: the CPU backend (its best integer kernels,
/// AVX-512 VNNI where the CPU has it), the CPU backend held to AVX2 (so the
/// fallback stays tested on a VNNI machine), the OpenCL device with its own
/// tuning entry, and, on that same device, the kernel shapes of the other
/// entry, so the GPU-shaped kernels are tested on PoCL too.
enum Subjects {
    static let openCLDevice: OpenCLDevice? = try? OpenCLBackend.preferredDevice()
    static let requireOpenCL = ProcessInfo.processInfo.environment["SLIM_REQUIRE_OPENCL"] == "1"

    static let all: [Subject] = {
        var list = [Subject(name: "cpu", backend: CPUBackend()),
                    Subject(name: "cpu-avx2", backend: CPUBackend(isa: .avx2))]
        guard let device = openCLDevice else {
            print("note: no OpenCL device, OpenCL conformance skipped" + (requireOpenCL ? " (and SLIM_REQUIRE_OPENCL=1 fails the suite)" : ""))
            return list
        }
        let own = DeviceTuning.lookup(device)
        let other = own == .cpu ? DeviceTuning.gpu : DeviceTuning.cpu
        // A smaller GPU tile keeps PoCL's compile and run time low; the code path is the same.
        let otherSmall = other == .gpu ? DeviceTuning(gemm: .tiled(tile: 16, workPerThread: 4), rowWorkGroup: 64, elementwiseWorkGroup: 64) : other
        for (label, tuning) in [("opencl", own), ("opencl-" + (own == .cpu ? "gpu-shape" : "cpu-shape"), otherSmall)] {
            if let b = try? OpenCLBackend(device: device, tuning: tuning) { list.append(Subject(name: label, backend: b)) }
        }
        return list
    }()

    static var openCL: [Subject] { all.filter { $0.backend.id.kind == .opencl } }
}

@Suite struct DevicePresence {
    @Test func openCLDeviceIsPresentWhenRequired() {
        if Subjects.requireOpenCL {
            #expect(Subjects.openCLDevice != nil, "SLIM_REQUIRE_OPENCL=1 but no OpenCL device was found (is pocl-opencl-icd installed?)")
            #expect(Subjects.openCL.count == 2, "the OpenCL device was found but a backend could not be opened on it")
        }
    }
}
