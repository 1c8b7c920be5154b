import Foundation
import SlimCore
import Testing

/// One attention problem: sizes, layout, padding.
struct AttentionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let batch: Int, lq: Int, lk: Int, heads: Int, kvHeads: Int, dim: Int, block: Int
    var causal = false
    var keyLengths: [Int32]? = nil
    /// Kept key blocks per query block; nil keeps all (dense).
    var rows: [[Int]]? = nil
    /// Key position of query row 0 when causal; nil: the queries are the last keys.
    var queryOffset: Int? = nil
    /// A generated layout instead of `rows`/`causal`.
    var pattern: (@Sendable () throws -> BlockSparseLayout)? = nil
    /// A different layout per head (passed as `AttentionOptions.headLayouts`).
    var perHead: (@Sendable () throws -> [BlockSparseLayout])? = nil
    var testDescription: String { name }

    func layout(head h: Int) throws -> BlockSparseLayout { try perHead?()[h] ?? layout() }

    /// NaN in the keys and values past each sequence's length (padding, a
    /// cache's unused tail): a kernel that reads them, even times zero, fails.
    func poisonPadding(_ values: [Float]) -> [Float] {
        guard let lengths = keyLengths else { return values }
        var out = values
        let row = kvHeads * dim
        for b in 0..<batch { for j in Int(lengths[b])..<lk { for e in 0..<row { out[(b * lk + j) * row + e] = .nan } } }
        return out
    }

    func layout() throws -> BlockSparseLayout {
        if let pattern { return try pattern() }
        let qb = (lq + block - 1) / block, kb = (lk + block - 1) / block
        return try BlockSparseLayout(queryLength: lq, keyLength: lk, blockSize: block,
                                     rows: rows ?? Array(repeating: Array(0..<kb), count: qb), causal: causal)
    }

    static let all: [AttentionCase] = [
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
    static let headDim128: [AttentionCase] = [
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

@Suite struct AttentionConformance {
    @Test(arguments: Subjects.all, AttentionCase.all)
    func forwardMatchesFloat64(_ subject: Subject, _ c: AttentionCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let q = inputs.floats(c.batch * c.lq * c.heads * c.dim, scale: 2)
        let k = c.poisonPadding(inputs.floats(c.batch * c.lk * c.kvHeads * c.dim, scale: 2))
        let v = c.poisonPadding(inputs.floats(c.batch * c.lk * c.kvHeads * c.dim))
        let qShape: Shape = [c.batch, c.lq, c.heads, c.dim], kShape: Shape = [c.batch, c.lk, c.kvHeads, c.dim]
        let o = try poisoned(backend, qShape), lse = try poisoned(backend, [c.batch, c.heads, c.lq])
        let lengths = try c.keyLengths.map { try backend.tensor($0, shape: [c.batch], dtype: .i32) }
        let (tq, tk, tv) = (try backend.tensor(q, shape: qShape), try backend.tensor(k, shape: kShape), try backend.tensor(v, shape: kShape))
        let options = AttentionOptions(scale: 1 / Float(c.dim).squareRoot(), keyLengths: lengths, queryOffset: c.queryOffset,
                                       headLayouts: try c.perHead?())
        try subject.expectPaths(c.name, ExpectedPaths.attention) {
            try backend.attention(tq, tk, tv, layout: try c.layout(), options: options, into: o, logSumExp: lse)
        }
        let want = try ReferenceAttention(c, q: q, k: k, v: v).forward()
        // Scores of size ~4·√d, fp32 exp and sums of ≤ 270 terms: 1e-5 relative on O(1) outputs.
        expectClose(try backend.floats(o), want.o, rtol: 1e-4, atol: 2e-5, "\(c.name) output, seed \(inputs.seed)")
        let gotLSE = try backend.floats(lse)
        let finite = want.lse.indices.filter { want.lse[$0].isFinite }
        expectClose(finite.map { gotLSE[$0] }, finite.map { want.lse[$0] }, rtol: 1e-5, atol: 1e-5, "\(c.name) lse")
        for i in want.lse.indices where !want.lse[i].isFinite {
            #expect(gotLSE[i] == -.infinity, "\(c.name): a row that sees no key has log-sum-exp −∞, got \(gotLSE[i])")
        }
    }

    @Test(arguments: Subjects.all)
    func withoutLogSumExpAndBadOperands(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let c = AttentionCase.all[0]
        let shape: Shape = [c.batch, c.lq, c.heads, c.dim]
        let q = try backend.tensor(inputs.floats(shape.elementCount), shape: shape)
        let o = try poisoned(backend, shape)
        let options = AttentionOptions(scale: 0.3)
        try backend.attention(q, q, q, layout: try c.layout(), options: options, into: o, logSumExp: nil)
        let noPadding = AttentionCase(name: "", batch: c.batch, lq: c.lq, lk: c.lk, heads: c.heads, kvHeads: c.kvHeads,
                                      dim: c.dim, block: c.block)
        let values = try backend.floats(q)
        // The reference scales by 1/√d: fold the requested 0.3 into Q instead.
        let want = try ReferenceAttention(noPadding, q: values.map { $0 * 0.3 * Float(c.dim).squareRoot() }, k: values, v: values).forward().o
        expectClose(try backend.floats(o), want, rtol: 1e-4, atol: 2e-5, "attention without lse, seed \(inputs.seed)")

        let badKV = try backend.allocate([c.batch, c.lk, 2, c.dim])  // 2 does not divide 3 heads
        #expect(throws: SlimError.self) {
            try backend.attention(q, badKV, badKV, layout: try c.layout(), options: options, into: o, logSumExp: nil)
        }
        let shortLayout = try BlockSparseLayout.dense(queryLength: c.lq - 1, keyLength: c.lk, blockSize: 16)
        #expect(throws: SlimError.self) {
            try backend.attention(q, q, q, layout: shortLayout, options: options, into: o, logSumExp: nil)
        }
        let floatLengths = try backend.allocate([c.batch])
        #expect(throws: SlimError.self) {
            try backend.attention(q, q, q, layout: try c.layout(), options: AttentionOptions(scale: 1, keyLengths: floatLengths),
                                  into: o, logSumExp: nil)
        }
    }

    @Test(arguments: Subjects.all)
    func embeddingGathersRowsAndMarksBadIDs(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let rows = 53, width = 37
        let table = inputs.floats(rows * width)
        let ids: [Int32] = [5, 0, 52, 17, 17, -1, 53, 9]
        let out = try poisoned(backend, [ids.count, width])
        try backend.embedding(try backend.tensor(ids, shape: [ids.count], dtype: .i32),
                              table: try backend.tensor(table, shape: [rows, width]), into: out)
        let got = try backend.floats(out)
        for (i, id) in ids.enumerated() {
            let row = Array(got[i * width..<(i + 1) * width])
            if (0..<Int32(rows)).contains(id) {
                #expect(row == Array(table[Int(id) * width..<(Int(id) + 1) * width]), "row \(i) (id \(id))")
            } else {
                #expect(row.allSatisfy { $0.isNaN }, "id \(id) is outside the table: its row must be NaN")
            }
        }
        let floatIDs = try backend.allocate([4]), tableTensor = try backend.tensor(table, shape: [rows, width])
        let smallOut = try backend.allocate([4, width])
        #expect(throws: SlimError.self) { try backend.embedding(floatIDs, table: tableTensor, into: smallOut) }
    }
}
