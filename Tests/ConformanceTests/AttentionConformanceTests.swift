import Foundation
import SlimConformance
import SlimCore
import Testing

extension AttentionCase: CustomTestStringConvertible {
    public var testDescription: String { name }
}

@Suite struct AttentionConformance {
    @Test(arguments: Subjects.all, AttentionCase.all)
    func forwardMatchesFloat64(_ subject: Subject, _ c: AttentionCase) throws {
        try checkForward(subject, c)
    }

    /// Blocks of 20 and 24, not multiples of the OpenCL kernel's 16-key tiles nor of
    /// the CPU's register tiles (the OpenCL forward once summed a tile's staged zeros
    /// past the block's end as keys of score 0).
    @Test(arguments: Subjects.all, AttentionCase.oddBlocks)
    func blocksThatAreNoPowerOfTwo(_ subject: Subject, _ c: AttentionCase) throws {
        try checkForward(subject, c)
    }

    func checkForward(_ subject: Subject, _ c: AttentionCase) throws {
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
