import SlimCore

extension OpenCLBackend {
    public func attentionScores(_ q: Tensor, _ k: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                                into scores: Tensor) throws {
        let s = try checkAttentionScores(q, k, scores: scores, layout: layout, options: options, on: id)
        let kept = try keptBlocks(layout, options)
        try launch("attention", "attention_scores", options: buildOptions(s),
                   [.buffer(q), .buffer(k), .buffer(scores), .buffer(kept.mask), options.keyLengths.map { .buffer($0) } ?? .null]
                       + maskArguments(s, layout, options) + [.int(kept.headStride), .float(attentionScoreMask)],
                   global: [s.keyLength, s.queryLength, s.batch * s.heads], local: [scoreTile(s), scoreTile(s), 1])
    }

    /// dQ over query tiles, then dK over key tiles: one kernel, two directions.
    public func attentionScoresBackward(_ q: Tensor, _ k: Tensor, gradScores dS: Tensor, layout: BlockSparseLayout,
                                        options: AttentionOptions, accumulatingInto dq: Tensor, dk: Tensor) throws {
        let s = try checkAttentionScoresBackward(q, k, gradScores: dS, layout: layout, options: options, dq: dq, dk: dk, on: id)
        let kept = try keptBlocks(layout, options), tile = scoreTile(s)
        for (out, byKeys) in [(dq, false), (dk, true)] {
            try launch("attention", "attention_scores_backward", options: buildOptions(s),
                       [.buffer(q), .buffer(k), .buffer(dS), .buffer(out), .buffer(kept.mask), options.keyLengths.map { .buffer($0) } ?? .null]
                           + maskArguments(s, layout, options) + [.int(kept.headStride), .int(byKeys ? 1 : 0)],
                       global: [tile, byKeys ? s.keyLength : s.queryLength, s.batch * (byKeys ? s.kvHeads : s.heads)],
                       local: [tile, tile, 1])
        }
    }

    /// The kernels' square tile is KEY_TILE of the attention program's build
    /// options: two tiles of rows fit 32 KiB of local memory at any head dimension.
    private func scoreTile(_ s: AttentionShape) -> Int { keyTile(s) }

    /// The layout as a dense block mask (1: kept), `[query block][key block]`,
    /// one after another per head when the heads have their own layouts.
    private func keptBlocks(_ layout: BlockSparseLayout, _ options: AttentionOptions) throws -> (mask: Tensor, headStride: Int) {
        let layouts = options.headLayouts ?? [layout], cells = layout.queryBlocks * layout.keyBlocks
        var mask = [Int32](repeating: 0, count: max(1, layouts.count * cells))
        for (h, l) in layouts.enumerated() {
            for r in 0..<l.queryBlocks { for c in l.keptColumns(ofRow: r) { mask[h * cells + r * l.keyBlocks + c] = 1 } }
        }
        return (try tensor(mask, shape: [mask.count], dtype: .i32, name: "kept blocks"), options.headLayouts == nil ? 0 : cells)
    }
}
