import SlimCore

/// The GPU-shaped attention (attention_tiled.cl): a work-group per tile of
/// `own` rows within a block, so dimension 0 counts blocks x tiles per block.
extension OpenCLBackend {
    typealias LayoutLists = (starts: Tensor, entries: Tensor, headStride: Int)

    func attentionTiled(_ s: AttentionShape, _ q: Tensor, _ k: Tensor, _ v: Tensor, _ layout: BlockSparseLayout,
                        _ options: AttentionOptions, _ rows: LayoutLists, _ tiles: AttentionTiles,
                        into o: Tensor, logSumExp: Tensor?) throws {
        let tiles = fittingDevice(tiles)
        let build = try tiles.options(headDim: s.headDim, backward: false)
        let own = try tiles.fitted(headDim: s.headDim, backward: false).own
        let queryTiles = layout.queryBlocks * ((layout.blockSize + own - 1) / own)
        let longest = (options.headLayouts ?? [layout]).map { l in
            zip(l.rowStarts.dropFirst(), l.rowStarts).map { Int($0 - $1) }.max() ?? 0
        }.max() ?? 0
        let splits = tiles.splits(groups: queryTiles * s.heads * s.batch, longestRow: longest)
        let lengths: KernelArgument = options.keyLengths.map { .buffer($0) } ?? .null
        func forward(_ out: Tensor, _ lse: KernelArgument, _ parts: (Tensor, Tensor)?) throws {
            try launch("attention_tiled", "attention_forward_tiled", options: build,
                       [.buffer(q), .buffer(k), .buffer(v), .buffer(out), lse, .buffer(rows.starts), .buffer(rows.entries), lengths]
                           + maskArguments(s, layout, options)
                           + [.int(rows.headStride), .int(splits), parts.map { .buffer($0.0) } ?? .null, parts.map { .buffer($0.1) } ?? .null],
                       global: [queryTiles * splits * tiles.lanes, s.heads * own / tiles.rowsPerItem, s.batch],
                       local: tiles.local(own: own))
        }
        guard splits > 1 else {
            return try forward(o, logSumExp.map { .buffer($0) } ?? .null, nil)
        }
        // Split-K: each split's unnormalised rows and (peak, sum), then one merge.
        let partRows = [splits, s.batch, s.heads, s.queryLength]
        let partO = try allocate(Shape(partRows + [s.headDim]), name: "attention split outputs")
        let partStats = try allocate(Shape(partRows + [2]), name: "attention split peaks and sums")
        try forward(o, .null, (partO, partStats))
        try launch("attention_tiled", "attention_combine", options: build,
                   [.buffer(partO), .buffer(partStats), .buffer(o), logSumExp.map { .buffer($0) } ?? .null,
                    .int(s.queryLength), .int(s.heads), .int(splits)],
                   global: [s.queryLength * s.headDim, s.heads, s.batch], local: [64, 1, 1])
    }

    /// The row's tiles within this device's local memory too (Oclgrind, for one, has 32 KiB).
    private func fittingDevice(_ tiles: AttentionTiles) -> AttentionTiles {
        var fitted = tiles
        fitted.localBytes = min(tiles.localBytes, device.localMemoryBytes)
        return fitted
    }

    /// Δ (a row per work-item, groups of 64), dK/dV over key tiles, dQ over query tiles.
    func attentionBackwardTiled(_ s: AttentionShape, _ q: Tensor, _ k: Tensor, _ v: Tensor, _ o: Tensor, _ logSumExp: Tensor,
                                _ dO: Tensor, _ layout: BlockSparseLayout, _ options: AttentionOptions,
                                _ rows: LayoutLists, _ transposed: LayoutLists, _ tiles: AttentionTiles,
                                into grads: AttentionGradients) throws {
        let tiles = fittingDevice(tiles)
        let build = try tiles.options(headDim: s.headDim, backward: true)
        let own = try tiles.fitted(headDim: s.headDim, backward: true).own
        let tilesPerBlock = (layout.blockSize + own - 1) / own
        let delta = try allocate([s.batch, s.heads, s.queryLength], name: "attention delta")
        try launch("attention_tiled", "attention_delta", options: build,
                   [.buffer(o), .buffer(dO), .buffer(delta), .int(s.queryLength), .int(s.heads)],
                   global: [s.queryLength, s.heads, s.batch], local: [64, 1, 1])
        let lengths: KernelArgument = options.keyLengths.map { .buffer($0) } ?? .null
        let mask = maskArguments(s, layout, options)
        let groupRows = own / tiles.rowsPerItem
        try launch("attention_tiled", "attention_backward_kv_tiled", options: build,
                   [.buffer(q), .buffer(k), .buffer(v), .buffer(dO), .buffer(logSumExp), .buffer(delta),
                    .buffer(grads.dk), .buffer(grads.dv), .buffer(transposed.starts), .buffer(transposed.entries), lengths]
                       + mask + [.int(transposed.headStride)],
                   global: [layout.keyBlocks * tilesPerBlock * tiles.lanes, s.kvHeads * groupRows, s.batch],
                   local: tiles.local(own: own))
        try launch("attention_tiled", "attention_backward_q_tiled", options: build,
                   [.buffer(q), .buffer(k), .buffer(v), .buffer(dO), .buffer(logSumExp), .buffer(delta),
                    .buffer(grads.dq), .buffer(rows.starts), .buffer(rows.entries), lengths] + mask + [.int(rows.headStride)],
                   global: [layout.queryBlocks * tilesPerBlock * tiles.lanes, s.heads * groupRows, s.batch],
                   local: tiles.local(own: own))
    }
}
