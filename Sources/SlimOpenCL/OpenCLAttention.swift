import SlimCore

extension OpenCLBackend {
    public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                          into o: Tensor, logSumExp: Tensor?) throws {
        let s = try AttentionShape(q: q, k: k, v: v, o: o, logSumExp: logSumExp, layout: layout, options: options)
        try requireOn(id, [q, k, v, o] + [logSumExp, options.keyLengths].compactMap { $0 }, op: "attention")
        let rows = try lists(layout, options, transposed: false)
        if let tiles = tuning.attention {
            return try attentionTiled(s, q, k, v, layout, options, rows, tiles, into: o, logSumExp: logSumExp)
        }
        try launch("attention", "attention_forward", options: buildOptions(s),
                   [.buffer(q), .buffer(k), .buffer(v), .buffer(o), logSumExp.map { .buffer($0) } ?? .null,
                    .buffer(rows.starts), .buffer(rows.entries), options.keyLengths.map { .buffer($0) } ?? .null]
                       + maskArguments(s, layout, options) + [.int(rows.headStride)],
                   global: [layout.queryBlocks * layout.blockSize, s.heads, s.batch], local: [layout.blockSize, 1, 1])
    }

    /// Δ, then dK/dV over key blocks (the transposed lists), then dQ over query blocks.
    public func attentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, output o: Tensor, logSumExp: Tensor,
                                  gradOutput dO: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                                  into grads: AttentionGradients) throws {
        let s = try checkAttentionBackward(q, k, v, o, logSumExp, dO, layout, options, grads, on: id)
        if let tiles = tuning.attention {
            let (rows, transposed) = (try lists(layout, options, transposed: false), try lists(layout, options, transposed: true))
            return try attentionBackwardTiled(s, q, k, v, o, logSumExp, dO, layout, options, rows, transposed, tiles, into: grads)
        }
        let build = buildOptions(s)
        let delta = try allocate([s.batch, s.heads, s.queryLength], name: "attention delta")
        try launch("attention", "attention_delta", options: build,
                   [.buffer(o), .buffer(dO), .buffer(delta), .int(s.queryLength), .int(s.heads)],
                   global: [s.queryLength, s.heads, s.batch], local: [tuning.helperWorkGroup, 1, 1])
        let lengths: KernelArgument = options.keyLengths.map { .buffer($0) } ?? .null
        let mask = maskArguments(s, layout, options)
        let transposed = try lists(layout, options, transposed: true)
        try launch("attention", "attention_backward_kv", options: build,
                   [.buffer(q), .buffer(k), .buffer(v), .buffer(dO), .buffer(logSumExp), .buffer(delta),
                    .buffer(grads.dk), .buffer(grads.dv), .buffer(transposed.starts), .buffer(transposed.entries), lengths]
                       + mask + [.int(transposed.headStride)],
                   global: [layout.keyBlocks * layout.blockSize, s.kvHeads, s.batch], local: [layout.blockSize, 1, 1])
        let rows = try lists(layout, options, transposed: false)
        try launch("attention", "attention_backward_q", options: build,
                   [.buffer(q), .buffer(k), .buffer(v), .buffer(dO), .buffer(logSumExp), .buffer(delta),
                    .buffer(grads.dq), .buffer(rows.starts), .buffer(rows.entries), lengths] + mask + [.int(rows.headStride)],
                   global: [layout.queryBlocks * layout.blockSize, s.heads, s.batch], local: [layout.blockSize, 1, 1])
    }

    /// The row's KEY_TILE; over head dimension 128 its KEY_TILE_WIDE, so that two
    /// tiles of rows still fit the 32 KiB of local memory every OpenCL device has.
    func keyTile(_ s: AttentionShape) -> Int { s.headDim > 128 ? tuning.keyTileWide : tuning.keyTile }

    func buildOptions(_ s: AttentionShape) -> String {
        "-D HEAD_DIM=\(s.headDim) -D KEY_TILE=\(keyTile(s))"
    }

    /// The sizes and element-mask parameters every attention kernel takes after its buffers.
    func maskArguments(_ s: AttentionShape, _ layout: BlockSparseLayout, _ options: AttentionOptions) -> [KernelArgument] {
        [.int(s.queryLength), .int(s.keyLength), .int(s.heads), .int(s.kvHeads), .int(layout.blockSize),
         .int(layout.causal ? 1 : 0), .int(s.causalOffset), .int(layout.window?.left ?? -1), .int(layout.window?.right ?? 0),
         .int(layout.globalTokens), .float(options.scale)]
    }

    /// The compressed rows (or, transposed, columns) on the device. With a layout
    /// per head they are concatenated: head h's starts begin at h · headStride
    /// and point into one shared list of entries.
    func lists(_ layout: BlockSparseLayout, _ options: AttentionOptions, transposed: Bool) throws
        -> (starts: Tensor, entries: Tensor, headStride: Int) {
        let layouts = options.headLayouts ?? [layout]
        var starts: [Int32] = [], entries: [Int32] = []
        for l in layouts {
            let (s, e) = transposed ? (l.transposedStarts, l.transposedRows) : (l.rowStarts, l.columns)
            starts += s.map { $0 + Int32(entries.count) }
            entries += e
        }
        let stride = options.headLayouts == nil ? 0 : (transposed ? layout.keyBlocks : layout.queryBlocks) + 1
        return (try int32Buffer(starts, "layout starts"), try int32Buffer(entries, "layout entries"), stride)
    }

    /// A device copy of a layout list (never empty: OpenCL has no zero-sized buffers).
    private func int32Buffer(_ values: [Int32], _ name: String) throws -> Tensor {
        try tensor(values.isEmpty ? [0] : values, shape: [max(values.count, 1)], dtype: .i32, name: name)
    }
}
