import COpenCL
import SlimCore

/// One argument of a kernel launch.
enum KernelArgument {
    case buffer(Tensor)
    /// A `__global` pointer argument left NULL (an absent optional operand).
    case null
    case int(Int)
    case float(Float)
}

extension OpenCLBackend {
    /// Enqueues `kernel` of program family `family` built with `options`, over
    /// `global` work-items (rounded up to whole work-groups of `local`; kernels
    /// guard their own bounds).
    func launch(_ family: String, _ kernel: String, options: String = "", _ arguments: [KernelArgument],
                global: [Int], local: [Int]) throws {
        let program = try programs.program(family, options: options)
        LaunchRecord.append(family: family, kernel: kernel, options: options)
        let rounded = zip(global, local).map { g, l in (g + l - 1) / l * l }
        if rounded.contains(0) { return }
        launchLock.lock()
        defer { launchLock.unlock() }
        let k = try program.kernel(kernel)
        for (i, argument) in arguments.enumerated() {
            let index = cl_uint(i)
            let status: cl_int
            switch argument {
            case let .buffer(t):
                var mem: cl_mem? = t.clMem
                status = clSetKernelArg(k, index, MemoryLayout<cl_mem>.size, &mem)
            case .null:
                var mem: cl_mem? = nil
                status = clSetKernelArg(k, index, MemoryLayout<cl_mem>.size, &mem)
            case let .int(v):
                var x = cl_int(v)
                status = clSetKernelArg(k, index, MemoryLayout<cl_int>.size, &x)
            case let .float(v):
                var x = v
                status = clSetKernelArg(k, index, MemoryLayout<Float>.size, &x)
            }
            try CLStatus.check(status, "clSetKernelArg", "argument \(i) of \(kernel) in \(program.label)")
        }
        let status = clEnqueueNDRangeKernel(queue, k, cl_uint(rounded.count), nil, rounded, local, 0, nil, nil)
        try CLStatus.check(status, "clEnqueueNDRangeKernel",
                           "\(kernel) in \(program.label), global \(rounded), local \(local) on \(device.name)")
    }
}
