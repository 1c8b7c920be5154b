import SlimCore

/// The shape of the GPU attention kernels (`Kernels/attention_tiled.cl`): a
/// work-group owns `ownRows` rows and streams `streamRows` rows of the other
/// side through local memory; its `lanes` x (`ownRows` / `rowsPerItem`)
/// work-items split each row's features (and the streamed rows) so that no
/// work-item holds a d-long row. A tuning row without tiles runs the
/// per-row kernels of `attention.cl` (the shape for CPU devices).
public struct AttentionTiles: Sendable, Equatable {
    public var lanes: Int
    public var ownRows: Int
    public var rowsPerItem: Int
    public var streamRows: Int
    /// Below this many work-groups (query tiles x heads x sequences: decode,
    /// a few query rows against a long cache), the forward splits each row's
    /// kept key blocks over several work-groups and merges them after
    /// (split-K), so a GPU's compute units are not left idle.
    public var splitBelowGroups: Int
    /// The local memory a work-group may take (the #18 bound: 48 KiB, what
    /// NVIDIA gives a block without opting in, below AMD's 64 KiB).
    public var localBytes: Int

    public init(lanes: Int, ownRows: Int, rowsPerItem: Int, streamRows: Int, splitBelowGroups: Int, localBytes: Int) {
        (self.lanes, self.ownRows, self.rowsPerItem, self.streamRows) = (lanes, ownRows, rowsPerItem, streamRows)
        (self.splitBelowGroups, self.localBytes) = (splitBelowGroups, localBytes)
    }

    /// 16 lanes x 8 rows of work-items, each with 4 query rows: 128 items, 32
    /// query rows per group, 32 keys per step (fewer where d is large).
    public static let gpu = AttentionTiles(lanes: 16, ownRows: 32, rowsPerItem: 4, streamRows: 32,
                                           splitBelowGroups: 256, localBytes: 48 * 1024)

    public enum Pass: Sendable { case forward, backwardQ, backwardKV }

    /// Local floats a pass declares (the `__local` arrays of attention_tiled.cl).
    static func localFloats(_ pass: Pass, headDim d: Int, own: Int, stream: Int, lanes: Int) -> Int {
        let row = d + 1, scores = own * (stream + 1)
        switch pass {
        case .forward: return own * row + stream * row + scores + own * lanes
        case .backwardQ: return 2 * own * row + 2 * stream * row + scores
        case .backwardKV: return 2 * own * row + 2 * stream * row + 2 * scores + 2 * stream
        }
    }

    /// The own and streamed rows a pass uses at head dimension d: both
    /// halved (the larger first, never below `rowsPerItem` and `lanes`) until
    /// every pass of the program fits `localBytes`.
    public func fitted(headDim d: Int, backward: Bool) throws -> (own: Int, stream: Int) {
        var (own, stream) = (ownRows, streamRows)
        let passes: [Pass] = backward ? [.backwardQ, .backwardKV] : [.forward]
        func fits() -> Bool { passes.allSatisfy { 4 * Self.localFloats($0, headDim: d, own: own, stream: stream, lanes: lanes) <= localBytes } }
        while !fits() {
            let ownCanHalve = own % (2 * rowsPerItem) == 0, streamCanHalve = stream % (2 * lanes) == 0
            if ownCanHalve && (own >= stream || !streamCanHalve) { own /= 2 }
            else if streamCanHalve { stream /= 2 }
            else {
                throw SlimError.unsupported(op: "attention", backend: "opencl",
                                            reason: "at head dimension \(d) even \(own) own and \(stream) streamed rows of the tiled kernels need more than \(localBytes) bytes of local memory")
            }
        }
        return (own, stream)
    }

    /// The `-D` options of the forward (with attention_combine) or the backward program.
    public func options(headDim d: Int, backward: Bool) throws -> String {
        let (own, stream) = try fitted(headDim: d, backward: backward)
        return "-D HEAD_DIM=\(d) -D LANES=\(lanes) -D OWN_ROWS=\(own) -D ROWS_PER_ITEM=\(rowsPerItem) -D STREAM_ROWS=\(stream)"
            + (backward ? " -D BACKWARD=1" : "")
    }

    /// Work-group size of every tiled kernel.
    func local(own: Int) -> [Int] { [lanes, own / rowsPerItem, 1] }

    /// How many splits the forward takes for this shape: 1 unless there are
    /// fewer than `splitBelowGroups` groups, then enough to reach it, at
    /// most one per kept key block of the longest row.
    func splits(groups: Int, longestRow: Int) -> Int {
        guard groups < splitBelowGroups, longestRow > 1 else { return 1 }
        return min(longestRow, (splitBelowGroups + groups - 1) / groups)
    }
}
