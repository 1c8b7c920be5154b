import Foundation
import SlimCore

/// Kernel shapes per device, as a small table with a default entry (CLBlast's
/// approach): what is fast on a GPU (local-memory tiles with barriers) is slow
/// on a CPU device like PoCL, which runs work-items as loops.
public struct DeviceTuning: Sendable, Equatable {
    public enum GemmVariant: Sendable, Equatable {
        /// Local-memory tiles of `tile`² elements, each work-item computing
        /// `workPerThread` outputs of a column (the GPU shape).
        case tiled(tile: Int, workPerThread: Int)
        /// No local memory: each work-item keeps a `rows` × `width` block of C
        /// in `rows` vectors of `width` floats (the CPU-device shape).
        case blocked(rows: Int, width: Int)
    }

    public var gemm: GemmVariant
    /// Work-items per row for the row-wise kernels (softmax, layer norm):
    /// a tree reduction in local memory on GPUs, one work-item per row on CPUs.
    public var rowWorkGroup: Int
    /// Work-group size of the elementwise kernels.
    public var elementwiseWorkGroup: Int
    /// The GPU attention kernels' tiles (attention_tiled.cl); nil runs the
    /// per-row kernels of attention.cl, the shape for CPU devices.
    public var attention: AttentionTiles? = nil

    public static let gpu = DeviceTuning(gemm: .tiled(tile: 32, workPerThread: 8), rowWorkGroup: 256, elementwiseWorkGroup: 256,
                                         attention: .gpu)
    public static let cpu = DeviceTuning(gemm: .blocked(rows: 8, width: 16), rowWorkGroup: 1, elementwiseWorkGroup: 64)

    /// The shipped rows by name, for `slim selftest --row NAME|all`: any
    /// device can run any row's kernels exactly as shipped (PoCL or Oclgrind
    /// running the GPU row's local-memory tiles and 256-wide reductions).
    public static let named: [(name: String, tuning: DeviceTuning)] = [("gpu", .gpu), ("cpu", .cpu)]

    /// The row called `name`, or an error listing the names there are.
    public static func row(named name: String) throws -> DeviceTuning {
        guard let row = named.first(where: { $0.name == name }) else {
            throw SlimError.invalidArgument("tuning row '\(name)' does not exist; rows: \(named.map(\.name).joined(separator: ", ")) (or all)")
        }
        return row.tuning
    }

    /// The entry for a device: matched on its type, the GPU entry by default.
    /// For kernel work, `SLIM_GEMM_VARIANT=tiled:TS:WPT` or `blocked:MR:VW` overrides the GEMM shape.
    public static func lookup(_ device: OpenCLDevice) -> DeviceTuning {
        var entry: DeviceTuning = device.type == .cpu ? .cpu : .gpu
        if let text = ProcessInfo.processInfo.environment["SLIM_GEMM_VARIANT"], let variant = GemmVariant(parsing: text) {
            entry.gemm = variant
        }
        return entry
    }
}

extension DeviceTuning.GemmVariant {
    init?(parsing text: String) {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3, let x = Int(parts[1]), let y = Int(parts[2]), x > 0, y > 0 else { return nil }
        switch parts[0] {
        case "tiled" where x % y == 0: self = .tiled(tile: x, workPerThread: y)
        case "blocked": self = .blocked(rows: x, width: y)
        default: return nil
        }
    }
}
