import CPUKernels
import SlimCore

/// The CPU backend: host memory, every core, SIMD, and the platform BLAS for GEMM.
public final class CPUBackend: Backend {
    public let id = BackendID(kind: .cpu, instance: 0, name: "CPU")
    public var peakGFLOPS: Double { CPUInfo.current.peakGFLOPS }
    /// The most capable instruction set the C kernels may use (quantized GEMM,
    /// activation rounding, GELU, the gated activations and the GEMM epilogue, attention's
    /// softmax); each runs the best level at or below it that the CPU has.
    /// The platform BLAS picks its own.
    public let isa: ISA
    /// The fp32 GEMM engine this backend was made to run, or nil for the
    /// process's choice (``GemmPath/current``: by CPU features, `SLIM_GEMM`).
    /// Slim's own tiles honour ``isa`` as their level limit; a BLAS picks its own.
    public let forcedGemm: GemmPath.Engine?

    /// The instruction-set levels of the C kernels (``KernelPaths`` reports
    /// which ran). The quantized-GEMM kernels have all three; the others stop at AVX2.
    /// On ARM64 the same two levels above plain C are NEON and NEON with the
    /// dot-product extension (sdot): `.avx2` limits the kernels to NEON without
    /// sdot, `.avx512VNNI` allows sdot; `description` names the level as the
    /// machine knows it ("neon", "neon-dotprod"). There the quantized GEMM's
    /// row kernels, the int8 activation rounding, GELU and the gated
    /// activations have NEON versions; the 22-bit int8 kernel and attention's
    /// softmax do not (plain C).
    public enum ISA: Int32, Sendable, Comparable, CaseIterable, CustomStringConvertible {
        /// Plain C.
        case portable = 0
        /// AVX2: int8 products through maddubs and madd.
        case avx2 = 1
        /// AVX-512 VNNI: int8 products through vpdpbusd; 4-bit levels with fp32
        /// activations through a 16-entry vpermps table (AVX-512 F); int8
        /// weights with fp32 activations through vpdpbusd on 22-bit fixed-point
        /// activations (see `QuantizedMatmulShape`).
        case avx512VNNI = 2

        /// The best level this CPU runs.
        public static var best: ISA { ISA(rawValue: slim_cpu_isa()) ?? .portable }
        public static func < (a: ISA, b: ISA) -> Bool { a.rawValue < b.rawValue }
        public var description: String { String(cString: slim_isa_name(rawValue)) }

        /// Whether int8 weights with fp32 activations take the 22-bit fixed-point
        /// kernel (cpu_i22.h) at this limit: only where vpdpbusd runs it (AVX-512
        /// VNNI); ARM64's top level has no such kernel and keeps the fp32 rows.
        public var int8FixedPoint: Bool {
            #if arch(x86_64)
            Int(slim_isa_within(rawValue)) == SLIM_ISA_AVX512_VNNI
            #else
            false
            #endif
        }
    }

    /// - Parameter isa: at most this instruction set for the C kernels (tests
    ///   pass `.avx2` and `.portable` to keep the fallbacks covered on a VNNI machine).
    ///   Per backend, not per process: two backends with different limits can
    ///   run side by side.
    /// - Parameter gemm: the fp32 GEMM engine, nil for the process's choice
    ///   (tests force each engine so both stay covered on any machine).
    public init(isa: ISA = .avx512VNNI, gemm: GemmPath.Engine? = nil) {
        self.isa = isa
        self.forcedGemm = gemm
    }

    /// The fp32 GEMM engine in force for this backend.
    public func gemmEngine() throws(SlimError) -> GemmPath.Engine {
        if let forcedGemm { return forcedGemm }
        return try GemmPath.current.get().engine
    }

    public func allocate(_ shape: Shape, dtype: DType, name: String) throws -> Tensor {
        let bytes = try allocationBytes(shape, dtype, name: name)
        let what = name.isEmpty ? "tensor \(shape) \(dtype)" : "'\(name)' \(shape) \(dtype)"
        return Tensor(shape: shape, dtype: dtype, storage: try HostStorage(owner: id, byteCount: bytes, what: what), name: name)
    }

    public func upload(_ bytes: UnsafeRawBufferPointer, to tensor: Tensor) throws {
        try checkTransfer(tensor, bytes: bytes.count, op: "upload")
        if let base = bytes.baseAddress { tensor.hostBytes.copyMemory(from: base, byteCount: bytes.count) }
    }

    public func download(_ tensor: Tensor, into bytes: UnsafeMutableRawBufferPointer) throws {
        try checkTransfer(tensor, bytes: bytes.count, op: "download")
        if let base = bytes.baseAddress { base.copyMemory(from: tensor.hostBytes, byteCount: bytes.count) }
    }

    public func copy(_ source: Tensor, to destination: Tensor) throws {
        try requireOn(id, [source, destination], op: "copy")
        guard source.byteCount == destination.byteCount else {
            throw SlimError.shapeMismatch(op: "copy", detail: "\(source.label) into \(destination.label)")
        }
        destination.hostBytes.copyMemory(from: source.hostBytes, byteCount: source.byteCount)
    }

    public func copyElements(_ source: Tensor, from: Int, to destination: Tensor, at: Int, count: Int) throws {
        let size = try checkCopyElements(source, from: from, to: destination, at: at, count: count, on: id)
        (destination.hostBytes + at * size).copyMemory(from: source.hostBytes + from * size, byteCount: count * size)
    }

    /// CPU ops run synchronously: when one returns, its output is written.
    public func synchronize() throws {}
}
