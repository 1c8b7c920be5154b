import COpenCL
import Foundation
import SlimCore

/// One OpenCL device and what `slim devices` reports about it.
public struct OpenCLDevice: @unchecked Sendable {
    // @unchecked: cl_device_id is an opaque handle that OpenCL allows any thread to use.
    let handle: cl_device_id
    let platform: cl_platform_id
    public let platformName: String
    public let name: String
    public let vendor: String
    public let type: DeviceType
    public let computeUnits: Int
    public let clockMHz: Int
    public let globalMemoryBytes: Int
    public let maxAllocationBytes: Int
    public let localMemoryBytes: Int
    public let maxWorkGroupSize: Int
    public let openCLCVersion: String
    public let driverVersion: String
    /// The device's preferred float vector width (PoCL on AVX2 says 8).
    public let preferredFloatVectorWidth: Int
    /// Whether fp32 division can be built correctly rounded
    /// (`-cl-fp32-correctly-rounded-divide-sqrt`); OpenCL's default allows 2.5 ulp.
    public let correctlyRoundedDivide: Bool
    /// The device's OpenCL extensions, space-separated.
    public let extensions: String
    /// Work-items that run in lock step (NVIDIA's warp, AMD's wavefront, the
    /// largest Intel sub-group), from the vendor's query extension; nil where
    /// the device has none (CPU drivers). Tuning rows can match on it.
    public let subGroupWidth: Int?

    public enum DeviceType: String, Sendable { case gpu, cpu, accelerator, other }

    /// Every device of every platform; an empty list when no OpenCL driver is installed.
    public static func all() throws -> [OpenCLDevice] {
        // The ICD loader's first clGetPlatformIDs loads the vendor libraries and is
        // not safe to run from several threads at once (seen: an empty list on some
        // threads, a crash in ocl-icd): one lookup at a time.
        try lookupLock.withLock { try lookUp() }
    }

    private static let lookupLock = NSLock()

    private static func lookUp() throws -> [OpenCLDevice] {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == -1001 || count == 0 { return [] }  // CL_PLATFORM_NOT_FOUND_KHR: no ICD registered
        try CLStatus.check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        try CLStatus.check(clGetPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")
        var devices: [OpenCLDevice] = []
        for case let platform? in platforms {
            var n: cl_uint = 0
            let s = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n)
            if s == CL_DEVICE_NOT_FOUND || n == 0 { continue }
            try CLStatus.check(s, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(n))
            try CLStatus.check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil), "clGetDeviceIDs")
            for case let id? in ids { devices.append(try OpenCLDevice(id, platform: platform)) }
        }
        return devices
    }

    private init(_ id: cl_device_id, platform: cl_platform_id) throws {
        handle = id
        self.platform = platform
        platformName = try Self.platformString(platform, CL_PLATFORM_NAME)
        name = try Self.string(id, CL_DEVICE_NAME)
        vendor = try Self.string(id, CL_DEVICE_VENDOR)
        let bits: cl_device_type = try Self.value(id, CL_DEVICE_TYPE)
        type = bits & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 ? .gpu
            : bits & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? .cpu
            : bits & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 ? .accelerator : .other
        computeUnits = Int(try Self.value(id, CL_DEVICE_MAX_COMPUTE_UNITS) as cl_uint)
        clockMHz = Int(try Self.value(id, CL_DEVICE_MAX_CLOCK_FREQUENCY) as cl_uint)
        globalMemoryBytes = Int(try Self.value(id, CL_DEVICE_GLOBAL_MEM_SIZE) as cl_ulong)
        maxAllocationBytes = Int(try Self.value(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE) as cl_ulong)
        localMemoryBytes = Int(try Self.value(id, CL_DEVICE_LOCAL_MEM_SIZE) as cl_ulong)
        maxWorkGroupSize = Int(try Self.value(id, CL_DEVICE_MAX_WORK_GROUP_SIZE) as Int)
        openCLCVersion = try Self.string(id, CL_DEVICE_OPENCL_C_VERSION)
        driverVersion = try Self.string(id, CL_DRIVER_VERSION)
        preferredFloatVectorWidth = Int(try Self.value(id, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT) as cl_uint)
        let fp: cl_device_fp_config = try Self.value(id, CL_DEVICE_SINGLE_FP_CONFIG)
        correctlyRoundedDivide = fp & cl_device_fp_config(CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0
        extensions = try Self.string(id, CL_DEVICE_EXTENSIONS)
        subGroupWidth = Self.subGroupWidth(id, extensions: extensions.split(separator: " ").map(String.init))
    }

    /// A rough fp32 peak: GPUs as compute units × fp32 lanes per unit ×
    /// 2 flops (FMA) × clock; a CPU device (PoCL) runs on the host's cores,
    /// so its share of the host's measured peak.
    public var peakGFLOPS: Double {
        let ghz = Double(clockMHz) / 1000
        switch type {
        case .gpu: return Double(computeUnits) * Double(Self.fp32LanesPerComputeUnit(vendor: vendor)) * 2 * ghz
        case .cpu: return CPUInfo.current.peakGFLOPS * Double(computeUnits) / Double(CPUInfo.current.cores)
        default: return Double(computeUnits) * 2 * Double(max(preferredFloatVectorWidth, 4)) * 2 * ghz
        }
    }

    /// fp32 lanes behind one OpenCL compute unit, by vendor. NVIDIA reports
    /// SMs: 128 FP32 cores each since Ampere (GA10x) and on Hopper (64 on
    /// A100/Volta, so an overestimate there). AMD reports CUs: 64 lanes (4 SIMD16
    /// on GCN/CDNA; RDNA's dual-issue can double it). Intel reports execution
    /// units (Gen9–Xe): 8 fp32 ALU lanes × 2 pipes = 16 per EU. Others: 16, as for Intel.
    static func fp32LanesPerComputeUnit(vendor: String) -> Int {
        let v = vendor.lowercased()
        if v.contains("nvidia") { return 128 }
        if v.contains("amd") || v.contains("advanced micro devices") { return 64 }
        return 16
    }

    /// The vendor queries' values: CL_DEVICE_WARP_SIZE_NV (0x4003),
    /// CL_DEVICE_WAVEFRONT_WIDTH_AMD (0x4043), CL_DEVICE_SUB_GROUP_SIZES_INTEL (0x4108, a list).
    private static func subGroupWidth(_ id: cl_device_id, extensions: [String]) -> Int? {
        if extensions.contains("cl_nv_device_attribute_query") { return (try? value(id, 0x4003) as cl_uint).map(Int.init) }
        if extensions.contains("cl_amd_device_attribute_query") { return (try? value(id, 0x4043) as cl_uint).map(Int.init) }
        guard extensions.contains("cl_intel_required_subgroup_size") else { return nil }
        var size = 0
        guard clGetDeviceInfo(id, cl_device_info(0x4108), 0, nil, &size) == CL_SUCCESS, size > 0 else { return nil }
        var sizes = [Int](repeating: 0, count: size / MemoryLayout<Int>.size)
        guard clGetDeviceInfo(id, cl_device_info(0x4108), size, &sizes, nil) == CL_SUCCESS else { return nil }
        return sizes.max()
    }

    /// A short human description, "pthread-haswell-AMD EPYC (cpu, Portable Computing Language)".
    public var summary: String { "\(name) (\(type.rawValue), \(platformName))" }

    private static func string(_ id: cl_device_id, _ param: Int32) throws -> String {
        var size = 0
        try CLStatus.check(clGetDeviceInfo(id, cl_device_info(param), 0, nil, &size), "clGetDeviceInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try CLStatus.check(clGetDeviceInfo(id, cl_device_info(param), size, &bytes, nil), "clGetDeviceInfo")
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespaces)
    }

    private static func platformString(_ id: cl_platform_id, _ param: Int32) throws -> String {
        var size = 0
        try CLStatus.check(clGetPlatformInfo(id, cl_platform_info(param), 0, nil, &size), "clGetPlatformInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try CLStatus.check(clGetPlatformInfo(id, cl_platform_info(param), size, &bytes, nil), "clGetPlatformInfo")
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func value<T: BitwiseCopyable>(_ id: cl_device_id, _ param: Int32) throws -> T {
        try withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { buf in
            try CLStatus.check(clGetDeviceInfo(id, cl_device_info(param), MemoryLayout<T>.size, buf.baseAddress, nil),
                               "clGetDeviceInfo")
            return buf[0]
        }
    }
}
