/// Kernel shapes per device, as a small table with a default entry (CLBlast's
/// approach): what is fast on a GPU (local-memory tiles with barriers) is slow
/// on a CPU device like PoCL, which runs work-items as loops.
public struct DeviceTuning: Sendable, Equatable {
    public enum GemmVariant: Sendable, Equatable {
        /// Local-memory tiles of `tile`² elements, each work-item computing
        /// `workPerThread` outputs of a column (the GPU shape).
        case tiled(tile: Int, workPerThread: Int)
        /// No local memory: each work-item keeps a `rows` × `8·vectors` block of C
        /// in float8 registers (the CPU-device shape).
        case blocked(rows: Int, vectors: Int)
    }

    public var gemm: GemmVariant
    /// Work-items per row for the row-wise kernels (softmax, layer norm):
    /// a tree reduction in local memory on GPUs, one work-item per row on CPUs.
    public var rowWorkGroup: Int
    /// Work-group size of the elementwise kernels.
    public var elementwiseWorkGroup: Int

    public static let gpu = DeviceTuning(gemm: .tiled(tile: 32, workPerThread: 8), rowWorkGroup: 256, elementwiseWorkGroup: 256)
    public static let cpu = DeviceTuning(gemm: .blocked(rows: 4, vectors: 2), rowWorkGroup: 1, elementwiseWorkGroup: 64)

    /// The entry for a device: matched on its type, the GPU entry by default.
    public static func lookup(_ device: OpenCLDevice) -> DeviceTuning {
        switch device.type {
        case .cpu: .cpu
        default: .gpu
        }
    }
}
