import SlimCore

/// One attention problem: sizes, layout, padding.
public struct AttentionCase: Sendable, CustomStringConvertible {
    public let name: String
    public let batch: Int, lq: Int, lk: Int, heads: Int, kvHeads: Int, dim: Int, block: Int
    public var causal = false
    public var keyLengths: [Int32]? = nil
    /// Kept key blocks per query block; nil keeps all (dense).
    public var rows: [[Int]]? = nil
    /// Key position of query row 0 when causal; nil: the queries are the last keys.
    public var queryOffset: Int? = nil
    /// A generated layout instead of `rows`/`causal`.
    public var pattern: (@Sendable () throws -> BlockSparseLayout)? = nil
    /// A different layout per head (passed as `AttentionOptions.headLayouts`).
    public var perHead: (@Sendable () throws -> [BlockSparseLayout])? = nil
    public var description: String { name }

    public init(name: String, batch: Int, lq: Int, lk: Int, heads: Int, kvHeads: Int, dim: Int, block: Int,
                causal: Bool = false, keyLengths: [Int32]? = nil, rows: [[Int]]? = nil, queryOffset: Int? = nil,
                pattern: (@Sendable () throws -> BlockSparseLayout)? = nil,
                perHead: (@Sendable () throws -> [BlockSparseLayout])? = nil) {
        (self.name, self.batch, self.lq, self.lk, self.heads, self.kvHeads, self.dim, self.block) =
            (name, batch, lq, lk, heads, kvHeads, dim, block)
        (self.causal, self.keyLengths, self.rows, self.queryOffset, self.pattern, self.perHead) =
            (causal, keyLengths, rows, queryOffset, pattern, perHead)
    }

    public func layout(head h: Int) throws -> BlockSparseLayout { try perHead?()[h] ?? layout() }

    /// NaN in the keys and values past each sequence's length (padding, a
    /// cache's unused tail): a kernel that reads them, even times zero, fails.
    public func poisonPadding(_ values: [Float]) -> [Float] {
        guard let lengths = keyLengths else { return values }
        var out = values
        let row = kvHeads * dim
        for b in 0..<batch { for j in Int(lengths[b])..<lk { for e in 0..<row { out[(b * lk + j) * row + e] = .nan } } }
        return out
    }

    public func layout() throws -> BlockSparseLayout {
        if let pattern { return try pattern() }
        let qb = (lq + block - 1) / block, kb = (lk + block - 1) / block
        return try BlockSparseLayout(queryLength: lq, keyLength: lk, blockSize: block,
                                     rows: rows ?? Array(repeating: Array(0..<kb), count: qb), causal: causal)
    }

    /// Blocks that are no power of two, with ragged lengths: the CPU tiles pad
    /// keys to 32 and the ragged last blocks' rows to 8; d = 40 copies V with
    /// rows padded to 48, d = 48 reads V in place with score tiles reading into
    /// the next block's keys. (The OpenCL kernels fail these: a known issue.)
    public static let oddBlocks: [AttentionCase] = [
        AttentionCase(name: "block 24 d40", batch: 1, lq: 53, lk: 47, heads: 2, kvHeads: 1, dim: 40, block: 24),
        AttentionCase(name: "block 20 d48 causal", batch: 2, lq: 61, lk: 61, heads: 2, kvHeads: 2, dim: 48, block: 20,
                      causal: true, keyLengths: [61, 44]),
    ]

    public static let all: [AttentionCase] = [
        // Ragged: 37 is no multiple of the block or the key tile, and the second sequence is padded.
        AttentionCase(name: "dense padded", batch: 2, lq: 37, lk: 37, heads: 3, kvHeads: 3, dim: 20, block: 16,
                      keyLengths: [37, 23]),
        AttentionCase(name: "causal GQA", batch: 1, lq: 50, lk: 50, heads: 4, kvHeads: 2, dim: 32, block: 16, causal: true),
        // Some query blocks keep nothing (zeros, log-sum-exp −∞), others skip blocks.
        AttentionCase(name: "block-sparse", batch: 2, lq: 70, lk: 61, heads: 2, kvHeads: 1, dim: 8, block: 16,
                      rows: [[0, 3], [], [1, 2, 3], [0], [2]]),
        // Decoding 5 new tokens after 35 cached ones: the causal diagonal is offset.
        AttentionCase(name: "causal with cache", batch: 1, lq: 5, lk: 40, heads: 3, kvHeads: 1, dim: 64, block: 32, causal: true),
        // A KV cache of capacity 64 holding 20 tokens before 5 new queries: only 25 keys are valid.
        AttentionCase(name: "cache with room", batch: 1, lq: 5, lk: 64, heads: 6, kvHeads: 2, dim: 16, block: 16, causal: true,
                      keyLengths: [25], queryOffset: 20),
        // A token window of 21 that ends inside blocks, plus 5 global tokens.
        AttentionCase(name: "window + global", batch: 1, lq: 90, lk: 90, heads: 2, kvHeads: 2, dim: 16, block: 16,
                      pattern: { try BlockSparseLayout.window(queryLength: 90, blockSize: 16, left: 13, right: 7).addingGlobalTokens(5) }),
        AttentionCase(name: "causal window", batch: 2, lq: 77, lk: 77, heads: 2, kvHeads: 1, dim: 32, block: 16,
                      keyLengths: [77, 50], pattern: { try BlockSparseLayout.window(queryLength: 77, blockSize: 16, left: 20, right: 0, causal: true) }),
        AttentionCase(name: "bigbird", batch: 1, lq: 100, lk: 100, heads: 2, kvHeads: 2, dim: 8, block: 16,
                      pattern: { try BlockSparseLayout.bigBird(length: 100, blockSize: 16, windowBlocks: 1, globalBlocks: 1, randomBlocks: 1, seed: 7) }),
        // Causal layouts whose kept blocks differ per head (all blocks, the diagonal only, a window).
        AttentionCase(name: "per-head layouts", batch: 1, lq: 70, lk: 70, heads: 3, kvHeads: 1, dim: 16, block: 16, causal: true,
                      perHead: { [try .causal(queryLength: 70, blockSize: 16),
                                  try .custom(queryLength: 70, keyLength: 70, blockSize: 16,
                                              blockMask: (0..<5).map { r in (0..<5).map { $0 == r } }, causal: true),
                                  try .custom(queryLength: 70, keyLength: 70, blockSize: 16,
                                              blockMask: (0..<5).map { r in (0..<5).map { $0 <= r && $0 >= r - 1 } }, causal: true)] }),
        AttentionCase(name: "MiniLM-shaped", batch: 3, lq: 19, lk: 19, heads: 12, kvHeads: 12, dim: 32, block: 32,
                      keyLengths: [19, 7, 12]),
    ] + headDim128

    /// Head dimension 128 (Llama's, Qwen's) at the largest blocks: 64- and
    /// 128-wide OpenCL work-groups, key tiles of 16 rows of 128 features in
    /// local memory, lengths that end inside a block.
    public static let headDim128: [AttentionCase] = [
        AttentionCase(name: "d128 block 64 causal GQA padded", batch: 2, lq: 130, lk: 130, heads: 2, kvHeads: 1, dim: 128, block: 64,
                      causal: true, keyLengths: [130, 71]),
        AttentionCase(name: "d128 block 128 sparse", batch: 1, lq: 270, lk: 270, heads: 2, kvHeads: 2, dim: 128, block: 128,
                      rows: [[0, 2], [1], [0, 1, 2]]),
        // Decoding: one new token per sequence against a cache of 300 slots
        // (the last block partly used), each sequence with its own length.
        AttentionCase(name: "d128 block 128 decode", batch: 2, lq: 1, lk: 300, heads: 4, kvHeads: 2, dim: 128, block: 128,
                      causal: true, keyLengths: [300, 77]),
    ]
}
