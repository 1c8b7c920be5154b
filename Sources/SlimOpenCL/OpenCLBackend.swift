import COpenCL
import Kernels
import Foundation
import SlimCore

/// The OpenCL backend: one context and in-order queue on one device, its
/// programs compiled once and cached, every op a kernel from `Kernels/`.
public final class OpenCLBackend: Backend, @unchecked Sendable {
    // @unchecked: OpenCL contexts and queues are thread-safe; kernel argument
    // setting is not, so every launch holds `launchLock`.
    public let id: BackendID
    public let device: OpenCLDevice
    public let tuning: DeviceTuning
    let context: cl_context
    let queue: cl_command_queue
    let programs: ProgramCache
    let launchLock = NSLock()
    private var scratchBuffer: Tensor?
    private let scratchLock = NSLock()

    public var peakGFLOPS: Double { device.peakGFLOPS }

    /// Opens `device`, with the kernel shapes of `tuning` (by default the row in force: see `DeviceTuning.inForce`).
    public init(device: OpenCLDevice, instance: Int = 0, tuning: DeviceTuning? = nil) throws {
        // Checked before any work, not at the first kernel an op needs.
        if let folder = KernelSource.folder, let problem = KernelSource.folderProblem(folder) {
            throw SlimError.io(path: folder, detail: problem)
        }
        self.device = device
        self.tuning = try tuning ?? DeviceTuning.lookup(device)
        id = BackendID(kind: .opencl, instance: instance, name: device.name)
        var status: cl_int = 0
        var dev: cl_device_id? = device.handle
        guard let ctx = clCreateContext(nil, 1, &dev, nil, nil, &status), status == CL_SUCCESS else {
            throw SlimError.openCL(call: "clCreateContext", status: status, statusName: CLStatus.name(status), detail: device.name)
        }
        guard let q = clCreateCommandQueue(ctx, device.handle, 0, &status), status == CL_SUCCESS else {
            clReleaseContext(ctx)
            throw SlimError.openCL(call: "clCreateCommandQueue", status: status, statusName: CLStatus.name(status), detail: device.name)
        }
        context = ctx
        queue = q
        programs = ProgramCache(context: ctx, device: device)
    }

    deinit {
        clFinish(queue)
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// The first GPU if there is one, else the first device of any type.
    public static func preferredDevice() throws -> OpenCLDevice? {
        let all = try OpenCLDevice.all()
        return all.first { $0.type == .gpu } ?? all.first
    }

    public func allocate(_ shape: Shape, dtype: DType, name: String) throws -> Tensor {
        let bytes = try allocationBytes(shape, dtype, name: name)
        let what = name.isEmpty ? "tensor \(shape) \(dtype)" : "'\(name)' \(shape) \(dtype)"
        guard bytes <= device.maxAllocationBytes else {
            throw SlimError.outOfMemory(what: what + " (the device's largest single allocation is \(device.maxAllocationBytes) bytes)",
                                        bytes: bytes, device: device.name)
        }
        var status: cl_int = 0
        let mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), max(bytes, 4), nil, &status)
        guard let mem, status == CL_SUCCESS else {
            if [CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES, CL_OUT_OF_HOST_MEMORY, CL_INVALID_BUFFER_SIZE].contains(status) {
                throw SlimError.outOfMemory(what: what + " (\(CLStatus.name(status)))", bytes: bytes, device: device.name)
            }
            throw SlimError.openCL(call: "clCreateBuffer", status: status, statusName: CLStatus.name(status), detail: what)
        }
        return Tensor(shape: shape, dtype: dtype, storage: CLBuffer(owner: id, byteCount: bytes, mem: mem), name: name)
    }

    public func upload(_ bytes: UnsafeRawBufferPointer, to tensor: Tensor) throws {
        try checkTransfer(tensor, bytes: bytes.count, op: "upload")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        try CLStatus.check(clEnqueueWriteBuffer(queue, tensor.clMem, cl_bool(CL_TRUE), 0, bytes.count, base, 0, nil, nil),
                           "clEnqueueWriteBuffer", tensor.label)
    }

    public func download(_ tensor: Tensor, into bytes: UnsafeMutableRawBufferPointer) throws {
        try checkTransfer(tensor, bytes: bytes.count, op: "download")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        try CLStatus.check(clEnqueueReadBuffer(queue, tensor.clMem, cl_bool(CL_TRUE), 0, bytes.count, base, 0, nil, nil),
                           "clEnqueueReadBuffer", tensor.label)
    }

    public func copy(_ source: Tensor, to destination: Tensor) throws {
        try requireOn(id, [source, destination], op: "copy")
        guard source.byteCount == destination.byteCount else {
            throw SlimError.shapeMismatch(op: "copy", detail: "\(source.label) into \(destination.label)")
        }
        guard source.byteCount > 0 else { return }
        try CLStatus.check(clEnqueueCopyBuffer(queue, source.clMem, destination.clMem, 0, 0, source.byteCount, 0, nil, nil),
                           "clEnqueueCopyBuffer", "\(source.label) into \(destination.label)")
    }

    public func copyElements(_ source: Tensor, from: Int, to destination: Tensor, at: Int, count: Int) throws {
        let size = try checkCopyElements(source, from: from, to: destination, at: at, count: count, on: id)
        guard count > 0 else { return }
        try CLStatus.check(clEnqueueCopyBuffer(queue, source.clMem, destination.clMem, from * size, at * size, count * size, 0, nil, nil),
                           "clEnqueueCopyBuffer", "\(count) elements of \(source.label) into \(destination.label)")
    }

    /// Runs `body` with a device buffer of at least `elements` floats for an
    /// op's intermediate (packed GEMM panels), reused across ops. The lock is
    /// held while `body` enqueues, so two threads never interleave their use
    /// of it; the queue is in order, so the next op's writes land after this
    /// op's reads, and a replaced buffer lives until its commands finish.
    func withScratch<T>(elements: Int, _ body: (Tensor) throws -> T) throws -> T {
        scratchLock.lock()
        defer { scratchLock.unlock() }
        if scratchBuffer.map({ $0.elementCount < elements }) ?? true {
            scratchBuffer = try allocate([elements], dtype: .f32, name: "gemm scratch")
        }
        return try body(scratchBuffer!)
    }

    public func synchronize() throws {
        try CLStatus.check(clFinish(queue), "clFinish", device.name)
    }
}
