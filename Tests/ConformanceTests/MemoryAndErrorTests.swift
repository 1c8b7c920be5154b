import Kernels
import SlimConformance
@testable import SlimCore
import SlimCPU
@testable import SlimOpenCL
import Testing

@Suite struct MemoryAndErrors {
    @Test(arguments: Subjects.all)
    func uploadCopyDownloadRoundTrip(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let values = inputs.floats(1031)
        let t = try backend.tensor(values, shape: [1031])
        let copy = try poisoned(backend, [1031])
        try backend.copy(t, to: copy)
        #expect(try backend.floats(copy) == values, "bit-exact round trip, seed \(inputs.seed)")
        let ints: [Int32] = [7, -3, 2_000_000_000, 0, 1]
        let ti = try backend.tensor(ints, shape: [5], dtype: .i32)
        var back = [Int32](repeating: 0, count: 5)
        try back.withUnsafeMutableBytes { try backend.download(ti, into: $0) }
        #expect(back == ints)
        #expect(throws: SlimError.self) { try backend.write([1, 2, 3], to: t) }
    }

    @Test(Subjects.needsOpenCL) func tensorOnAnotherBackendIsRejected() throws {
        let other = try #require(Subjects.openCL.first?.backend)
        let cpu = Subjects.all[0].backend
        let onCPU = try cpu.tensor([1, 2, 3] as [Float], shape: [3])
        let onCL = try other.tensor([1, 2, 3] as [Float], shape: [3], name: "x")
        #expect(throws: SlimError.self) { try cpu.add(onCPU, onCL, into: onCPU) }
        do {
            try other.gelu(onCPU, into: onCL)
            Issue.record("gelu accepted a CPU tensor on the OpenCL backend")
        } catch let error as SlimError {
            guard case .wrongBackend = error else { Issue.record("wrong error: \(error)"); return }
            #expect(error.description.contains("copy it there first"))
        }
    }

    @Test(Subjects.needsOpenCL) func kernelThatFailsToBuildReportsItsLog() throws {
        let backend = try #require(Subjects.openCL.first?.backend as? OpenCLBackend)
        let broken = KernelSource.Text(name: "broken", origin: "test broken.cl", source: "__kernel void f(__global float *x) { x[0] = undefined_name; }")
        do {
            _ = try backend.programs.program(broken, options: "-D X=1")
            Issue.record("a broken kernel built")
        } catch let error as SlimError {
            guard case let .kernelBuild(program, options, _, log) = error else { Issue.record("wrong error: \(error)"); return }
            #expect(program.contains("broken.cl") && options.contains("-D X=1"))
            #expect(log.contains("undefined_name"), "the build log should name the error: \(log)")
        }
    }

    @Test(Subjects.needsOpenCL) func allocationBeyondTheDeviceFailsCleanly() throws {
        let backend = try #require(Subjects.openCL.first?.backend as? OpenCLBackend)
        let elements = backend.device.maxAllocationBytes / 4 + 1024
        do {
            _ = try backend.allocate([elements], dtype: .f32, name: "huge")
            Issue.record("allocated more than the device allows")
        } catch let error as SlimError {
            guard case .outOfMemory = error else { Issue.record("wrong error: \(error)"); return }
            #expect(error.description.contains("huge"))
        }
    }

    /// Issue 21: a shape whose element or byte count overflows, or a size no
    /// host can provide, is an error from `allocate`, not a trap; so is a
    /// reshape to such a shape.
    @Test(arguments: Subjects.all)
    func allocationsWhoseSizeOverflowsOrCannotBeMetFailCleanly(_ subject: Subject) throws {
        let backend = subject.backend
        for shape: Shape in [[99_999_999_999, 99_999_999_999], [Int.max / 4 + 1], [1 << 40, -3]] {
            #expect(throws: SlimError.self, "\(shape)") { _ = try backend.allocate(shape, name: "huge") }
        }
        // 2^57 bytes: no overflow, but more than any address space holds.
        do {
            _ = try backend.allocate([1 << 55], name: "exabyte")
            Issue.record("allocated an exabyte")
        } catch let error as SlimError {
            guard case .outOfMemory = error else { Issue.record("wrong error: \(error)"); return }
            #expect(error.description.contains("exabyte"))
        }
        let t = try backend.allocate([4, 4])
        #expect(throws: SlimError.self) { _ = try t.reshaped([Int.max, 4]) }
    }

    /// Every protocol op now runs on both backends; an op a future backend
    /// lacks falls to the protocol's default, which names the op and the backend.
    @Test(arguments: Subjects.all)
    func unimplementedOpsSaySoByName(_ subject: Subject) throws {
        let error = subject.backend.notYet("someFutureOp")
        guard case let .unsupported(op, backend, reason) = error else { Issue.record("wrong error: \(error)"); return }
        #expect(op == "someFutureOp" && backend == subject.backend.id.kind.rawValue && reason.contains("not implemented"))
    }
}
