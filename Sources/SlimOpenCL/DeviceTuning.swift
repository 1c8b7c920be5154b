import Foundation
import SlimCore

/// One row of kernel shapes (a row of `Kernels/tuning.json`, or a row `slim tune`
/// found): what is fast on a GPU (local-memory tiles with barriers) is slow
/// on a CPU device like PoCL, which runs work-items as loops. Every `-D`
/// option that shapes a kernel, and every work-group size, comes from here.
public struct DeviceTuning: Sendable, Equatable {
    public enum GemmVariant: Sendable, Equatable {
        /// Local-memory tiles of `tile`² elements, each work-item computing
        /// `workPerThread` outputs of a column (the GPU shape).
        case tiled(tile: Int, workPerThread: Int)
        /// No local memory: each work-item keeps a `rows` × `width` block of C
        /// in `rows` vectors of `width` floats (the CPU-device shape).
        case blocked(rows: Int, width: Int)
    }

    /// The row's name in the table ("cpu", "nvidia"), or "tuned" for a cached search result.
    public var name: String
    public var gemm: GemmVariant
    /// From this many rows of A, the blocked GEMM packs B into panels first (see gemm.cl).
    public var gemmPackFromRows: Int
    /// Work-items per row for the row-wise kernels (softmax, layer norm):
    /// a tree reduction in local memory on GPUs, one work-item per row on CPUs.
    public var rowWorkGroup: Int
    /// Work-group size of the elementwise kernels.
    public var elementwiseWorkGroup: Int
    /// Tokens per work-item of the quantized GEMM (`-D TM`), and the largest M the GEMV shape takes.
    public var quantTokens: Int
    /// Work-items sharing one output row in `qgemv` (`-D LS`).
    public var gemvWorkGroup: Int
    /// Work-items per group (along N) of `qgemm_blocked`.
    public var blockedWorkGroup: Int
    /// Keys per local-memory tile of the attention kernels (`-D KEY_TILE`), and at head dimensions over 128.
    public var keyTile: Int
    public var keyTileWide: Int
    /// Work-group size of the one-item-per-row helpers (activation quantizers, `qgemm_dequantize`, `attention_delta`).
    public var helperWorkGroup: Int
    /// The GPU attention kernels' tiles (attention_tiled.cl, the row's optional
    /// `attention_tiles` section); nil runs the per-row kernels of attention.cl,
    /// the shape for CPU devices.
    public var attention: AttentionTiles? = nil

    /// The shipped GPU and CPU rows (the table's "gpu" and "cpu").
    public static var gpu: DeviceTuning { get throws { try row(named: "gpu") } }
    public static var cpu: DeviceTuning { get throws { try row(named: "cpu") } }

    /// The shipped rows by name, for `slim selftest --row NAME|all`: any
    /// device can run any row's kernels exactly as shipped (PoCL or Oclgrind
    /// running the GPU row's local-memory tiles and 256-wide reductions).
    public static var named: [(name: String, tuning: DeviceTuning)] {
        get throws { try TuningTable.shipped().rows.map { ($0.tuning.name, $0.tuning) } }
    }

    /// The shipped row called `name`, or an error listing the names there are.
    public static func row(named name: String) throws -> DeviceTuning {
        let rows = try TuningTable.shipped().rows
        guard let row = rows.first(where: { $0.tuning.name == name }) else {
            throw SlimError.invalidArgument("tuning row '\(name)' does not exist; rows: \(rows.map(\.tuning.name).joined(separator: ", ")) (or all)")
        }
        return row.tuning
    }

    /// The row in force on `device`: the one `slim tune` stored for this device
    /// and driver if there is one (unless `SLIM_TUNING=shipped`), else the
    /// table's best match. For kernel work, `SLIM_GEMM_VARIANT=tiled:TS:WPT`
    /// or `blocked:MR:VW` overrides the GEMM shape.
    public static func lookup(_ device: OpenCLDevice) throws -> DeviceTuning {
        try inForce(device).tuning
    }

    /// The row in force and where it came from, as `slim devices` reports it.
    public static func inForce(_ device: OpenCLDevice) throws -> (tuning: DeviceTuning, source: String) {
        var chosen: (tuning: DeviceTuning, source: String)
        if ProcessInfo.processInfo.environment["SLIM_TUNING"] != "shipped", let tuned = try TunedRows.load(device) {
            chosen = (tuned.tuning, "tuned by `slim tune` on \(tuned.date) (\(tuned.file.path))")
        } else {
            let table = try TuningTable.shipped()
            chosen = (table.match(device).tuning, "shipped row of \(table.origin)")
        }
        if let text = ProcessInfo.processInfo.environment["SLIM_GEMM_VARIANT"], let variant = GemmVariant(parsing: text) {
            chosen.tuning.gemm = variant
            chosen.source += ", GEMM from SLIM_GEMM_VARIANT=\(text)"
        }
        return chosen
    }

    /// The same shapes under another name (a tuned row keeps the values it started from).
    public func renamed(_ name: String) -> DeviceTuning {
        var copy = self
        copy.name = name
        return copy
    }

    /// Equal shapes, whatever the names.
    public func sameShapes(as other: DeviceTuning) -> Bool { renamed("") == other.renamed("") }
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

    /// `tiled:32:8`, `blocked:8:16`: the form `SLIM_GEMM_VARIANT` takes.
    public var description: String {
        switch self {
        case let .tiled(tile, wpt): "tiled:\(tile):\(wpt)"
        case let .blocked(rows, width): "blocked:\(rows):\(width)"
        }
    }
}
