import SlimCore

extension OpenCLBackend {
    public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                          into o: Tensor, logSumExp: Tensor?) throws {
        let s = try AttentionShape(q: q, k: k, v: v, o: o, logSumExp: logSumExp, layout: layout, options: options)
        try requireOn(id, [q, k, v, o] + [logSumExp, options.keyLengths].compactMap { $0 }, op: "attention")
        // Two tiles of KEY_TILE rows must fit the 32 KiB of local memory every OpenCL device has.
        let keyTile = s.headDim > 128 ? 8 : 16
        let rowStarts = try tensor(layout.rowStarts, shape: [layout.rowStarts.count], dtype: .i32, name: "layout.rowStarts")
        let columns = try tensor(layout.columns.isEmpty ? [0] : layout.columns, shape: [max(layout.columns.count, 1)],
                                 dtype: .i32, name: "layout.columns")
        try launch("attention", "attention_forward", options: "-D HEAD_DIM=\(s.headDim) -D KEY_TILE=\(keyTile)",
                   [.buffer(q), .buffer(k), .buffer(v), .buffer(o), logSumExp.map { .buffer($0) } ?? .null,
                    .buffer(rowStarts), .buffer(columns), options.keyLengths.map { .buffer($0) } ?? .null,
                    .int(s.queryLength), .int(s.keyLength), .int(s.heads), .int(s.kvHeads), .int(layout.blockSize),
                    .int(layout.causal ? 1 : 0), .int(s.causalOffset),
                    .int(layout.window?.left ?? -1), .int(layout.window?.right ?? 0), .int(layout.globalTokens), .float(options.scale)],
                   global: [layout.queryBlocks * layout.blockSize, s.heads, s.batch], local: [layout.blockSize, 1, 1])
    }
}
