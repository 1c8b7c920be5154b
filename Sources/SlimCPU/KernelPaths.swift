import CPUKernels

/// Which instruction-set paths the CPU backend's C kernels ran, per op family:
/// so that a test can check the dispatch and not only the numbers (a VNNI
/// subject that silently ran its AVX2 kernels would still produce correct
/// numbers). Each dispatching C entry point notes the level it ran in a
/// per-thread word (one OR, see cpu_isa.h) and `parallelChunks` gathers its
/// workers' notes into the calling thread's, so the record is that of the
/// calling thread's ops only: tests running in parallel do not see each other's.
public struct KernelPaths: Equatable, Sendable, CustomStringConvertible {
    /// The op families with kernels at several levels.
    public enum Family: Int, CaseIterable, Sendable {
        /// The quantized-GEMM row kernels (and the row decoder of the many-token tiles).
        case quantizedMatmul
        /// Rounding activations for those: int8 rows or runs, 22-bit digit planes.
        case activationRounding
        /// GELU, the gated activations (SwiGLU, GELU-tanh) and the fp32 GEMM's bias/GELU epilogue.
        case elementwise
        /// Attention's online-softmax block.
        case attention
        /// Slim's own fp32 GEMM tiles (level 2 here is AVX-512 F, no VNNI needed).
        case gemm

        var shift: Int {
            switch self {
            case .quantizedMatmul: Int(SLIM_PATHS_QGEMM) * Int(SLIM_PATH_BITS)
            case .activationRounding: Int(SLIM_PATHS_QUANTIZE_X) * Int(SLIM_PATH_BITS)
            case .elementwise: Int(SLIM_PATHS_ELEMENTWISE) * Int(SLIM_PATH_BITS)
            case .attention: Int(SLIM_PATHS_ATTENTION) * Int(SLIM_PATH_BITS)
            case .gemm: Int(SLIM_PATHS_GEMM) * Int(SLIM_PATH_BITS)
            }
        }
    }

    let bits: UInt32

    /// The levels that ran in `family` (empty: none of its kernels ran).
    public subscript(_ family: Family) -> Set<CPUBackend.ISA> {
        Set(CPUBackend.ISA.allCases.filter { bits >> (family.shift + Int($0.rawValue)) & 1 == 1 })
    }

    public var description: String {
        Family.allCases.filter { !self[$0].isEmpty }
            .map { f in "\(f): " + self[f].sorted().map(\.description).joined(separator: "+") }.joined(separator: ", ")
    }

    /// Runs `body` and returns what its kernels ran, on this thread and the
    /// workers it used. The thread's earlier record is kept, not reported.
    public static func recording(_ body: () throws -> Void) rethrows -> KernelPaths {
        let outer = slim_paths_take()
        defer { slim_paths_add(outer) }
        try body()
        let ran = slim_paths_take()
        slim_paths_add(ran)
        return KernelPaths(bits: ran)
    }
}
