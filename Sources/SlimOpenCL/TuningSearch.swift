import SlimCore

/// What `slim tune` searches: per op, the row fields that shape its kernels
/// and the values worth trying on a device, within the device's limits
/// (work-group size, local memory). The search itself — timing and checking
/// each candidate — is the command's; this is the grid.
public enum TuningSearch {
    public enum Op: String, CaseIterable, Sendable {
        case gemm, qgemv, attention
    }

    /// Rows to try for `op`: `base` with that op's fields replaced. The shipped
    /// row's values come first (the baseline every search measures), then
    /// `base`'s own if they differ, then the grid, nearest the shipped values
    /// first, so a short time budget still covers the likely winners.
    public static func candidates(_ op: Op, base: DeviceTuning, shipped: DeviceTuning, device: OpenCLDevice) -> [DeviceTuning] {
        var list = [merge(op, from: shipped, into: base), base]
        switch op {
        case .gemm:
            var blocked: [DeviceTuning] = [], tiled: [DeviceTuning] = []
            for rows in [4, 6, 8, 12, 16] {
                for width in [8, 16] {
                    var t = base
                    t.gemm = .blocked(rows: rows, width: width)
                    blocked.append(t)
                }
            }
            for tile in [8, 16, 32] {
                for wpt in [1, 2, 4, 8] where tile % wpt == 0 && tile * tile / wpt <= device.maxWorkGroupSize
                    && 2 * tile * (tile + 1) * 4 <= device.localMemoryBytes {
                    var t = base
                    t.gemm = .tiled(tile: tile, workPerThread: wpt)
                    tiled.append(t)
                }
            }
            list += device.type == .cpu ? blocked + tiled : tiled + blocked
        case .qgemv:
            for ls in [1, 2, 4, 8, 16, 32, 64, 128, 256] where ls <= device.maxWorkGroupSize {
                var t = base
                t.gemvWorkGroup = ls
                list.append(t)
            }
            list[2...].sort { abs(log2($0.gemvWorkGroup) - log2(shipped.gemvWorkGroup)) < abs(log2($1.gemvWorkGroup) - log2(shipped.gemvWorkGroup)) }
        case .attention:
            // Two tiles of KEY_TILE rows of head dimension 128 (the backward's Q and dO) in local memory,
            // and KEY_TILE² items in a score tile's work-group.
            for tile in [8, 16, 32, 64] where tile * tile <= device.maxWorkGroupSize && 2 * tile * 128 * 4 + 1024 <= device.localMemoryBytes {
                var t = base
                t.keyTile = tile
                list.append(t)
            }
        }
        var unique: [DeviceTuning] = []
        for t in list where !unique.contains(where: { $0.sameShapes(as: t) }) { unique.append(t) }
        return unique
    }

    private static func log2(_ n: Int) -> Int { Int.bitWidth - n.leadingZeroBitCount }

    /// `row` with `op`'s fields taken from `winner`.
    public static func merge(_ op: Op, from winner: DeviceTuning, into row: DeviceTuning) -> DeviceTuning {
        var out = row
        switch op {
        case .gemm: out.gemm = winner.gemm; out.gemmPackFromRows = winner.gemmPackFromRows
        case .qgemv: out.gemvWorkGroup = winner.gemvWorkGroup; out.quantTokens = winner.quantTokens
        case .attention: out.keyTile = winner.keyTile; out.keyTileWide = winner.keyTileWide
        }
        return out
    }

    /// The fields of `op` in `t`, as a candidate's label.
    public static func describe(_ op: Op, _ t: DeviceTuning) -> String {
        switch op {
        case .gemm: "gemm \(t.gemm.description)"
        case .qgemv: "GEMV_LS \(t.gemvWorkGroup) TM \(t.quantTokens)"
        case .attention: "KEY_TILE \(t.keyTile)"
        }
    }
}
