import COpenCL
import Foundation
import Kernels
import SlimCore

/// A built program and its kernels, created once and reused.
final class Program: @unchecked Sendable {
    // @unchecked: mutable state (the kernel table) is guarded by the backend's launch lock.
    let handle: cl_program
    let label: String
    private var kernels: [String: cl_kernel] = [:]

    init(handle: cl_program, label: String) {
        self.handle = handle
        self.label = label
    }

    /// The kernel called `name`; call with the launch lock held.
    func kernel(_ name: String) throws -> cl_kernel {
        if let k = kernels[name] { return k }
        var status: cl_int = 0
        guard let k = clCreateKernel(handle, name, &status), status == CL_SUCCESS else {
            throw SlimError.openCL(call: "clCreateKernel", status: status, statusName: CLStatus.name(status),
                                   detail: "kernel \(name) in \(label)")
        }
        kernels[name] = k
        return k
    }

    deinit {
        for k in kernels.values { clReleaseKernel(k) }
        clReleaseProgram(handle)
    }
}

/// Compiles each (source, options) pair once per device: in memory for the
/// process, and on disk as a device binary keyed by
/// sha256(source ‖ options ‖ device ‖ driver), so a later run loads it in
/// milliseconds instead of compiling for a second.
final class ProgramCache: @unchecked Sendable {
    // @unchecked: `programs` is only touched with `lock` held.
    private let context: cl_context
    private let device: OpenCLDevice
    private var programs: [String: Program] = [:]
    private let lock = NSLock()
    /// Set `SLIM_KERNEL_CACHE=0` to build from source every time (kernel work).
    private let useDisk = ProcessInfo.processInfo.environment["SLIM_KERNEL_CACHE"] != "0"

    init(context: cl_context, device: OpenCLDevice) {
        self.context = context
        self.device = device
    }

    func program(_ family: String, options: String) throws -> Program {
        guard let text = KernelSource.text(of: family) else {
            throw SlimError.invalidArgument("no kernel source named \(family).cl" + (KernelSource.folder.map { " in SLIM_KERNELS_DIR \($0)" } ?? ""))
        }
        return try program(text, options: options)
    }

    func program(_ text: KernelSource.Text, options: String) throws -> Program {
        let fullOptions = "-cl-std=CL1.2 " + options
        var hasher = SHA256()
        for part in [text.source, fullOptions, device.platformName, device.name, device.driverVersion] {
            hasher.update(part)
            hasher.update([0])
        }
        let key = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        lock.lock()
        defer { lock.unlock() }
        if let p = programs[key] { return p }
        let label = "\(text.origin) [\(options)]"
        let file = useDisk ? (try? CacheDirectory.folder("opencl"))?.appendingPathComponent(key + ".bin") : nil
        let program = try (file.flatMap { try? loadBinary($0, options: fullOptions, label: label) })
            ?? buildSource(text.source, options: fullOptions, label: label, saveTo: file)
        programs[key] = program
        return program
    }

    private func buildSource(_ source: String, options: String, label: String, saveTo file: URL?) throws -> Program {
        var status: cl_int = 0
        let handle = source.withCString { ptr -> cl_program? in
            var p: UnsafePointer<CChar>? = ptr
            return clCreateProgramWithSource(context, 1, &p, nil, &status)
        }
        guard let handle, status == CL_SUCCESS else {
            throw SlimError.openCL(call: "clCreateProgramWithSource", status: status, statusName: CLStatus.name(status), detail: label)
        }
        let program = Program(handle: handle, label: label)
        try build(program, options: options)
        if let file, let binary = try? binary(of: handle) {
            try? writeAtomically(binary, to: file)
        }
        return program
    }

    private func loadBinary(_ file: URL, options: String, label: String) throws -> Program? {
        guard let data = try? Data(contentsOf: file), !data.isEmpty else { return nil }
        var status: cl_int = 0, binaryStatus: cl_int = 0
        var dev: cl_device_id? = device.handle
        let handle = data.withUnsafeBytes { raw -> cl_program? in
            var size = raw.count
            var ptr: UnsafePointer<UInt8>? = raw.bindMemory(to: UInt8.self).baseAddress
            return clCreateProgramWithBinary(context, 1, &dev, &size, &ptr, &binaryStatus, &status)
        }
        guard let handle, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let handle { clReleaseProgram(handle) }
            try? FileManager.default.removeItem(at: file)  // stale or corrupt: rebuild from source
            return nil
        }
        let program = Program(handle: handle, label: label)
        try build(program, options: options)
        return program
    }

    private func build(_ program: Program, options: String) throws {
        var dev: cl_device_id? = device.handle
        let status = clBuildProgram(program.handle, 1, &dev, options, nil, nil)
        guard status == CL_SUCCESS else {
            throw SlimError.kernelBuild(program: program.label, options: options, device: device.name,
                                        log: buildLog(program.handle) + "\n(\(CLStatus.name(status)))")
        }
    }

    private func buildLog(_ handle: cl_program) -> String {
        var size = 0
        clGetProgramBuildInfo(handle, device.handle, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
        var bytes = [UInt8](repeating: 0, count: size + 1)
        clGetProgramBuildInfo(handle, device.handle, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    private func binary(of handle: cl_program) throws -> Data {
        var size = 0
        try CLStatus.check(clGetProgramInfo(handle, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil),
                           "clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)")
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBufferPointer { buf in
            var ptr: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            try CLStatus.check(clGetProgramInfo(handle, cl_program_info(CL_PROGRAM_BINARIES),
                                                MemoryLayout<UnsafeMutablePointer<UInt8>?>.size, &ptr, nil),
                               "clGetProgramInfo(CL_PROGRAM_BINARIES)")
        }
        return Data(bytes)
    }
}
