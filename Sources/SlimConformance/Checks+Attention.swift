import SlimCore

extension ConformanceCatalogue {
    /// Attention forward (output and log-sum-exp) and backward on the
    /// ``AttentionCase`` list; `quick` keeps the cases under 20 k score entries.
    static func attentionChecks(quick: Bool) -> [ConformanceCheck] {
        let cases = quick ? AttentionCase.all.filter { $0.batch * $0.heads * $0.lq * $0.lk * $0.dim <= 200_000 } : AttentionCase.all
        return cases.map { c in
            ConformanceCheck(op: "attention", detail: c.name) { backend, rng in try attention(c, backend, &rng, backward: false) }
        } + cases.map { c in
            ConformanceCheck(op: "attentionBackward", detail: c.name) { backend, rng in try attention(c, backend, &rng, backward: true) }
        }
    }

    /// The forward's output and finite log-sum-exps (a row that sees no key must
    /// give −∞), or the backward's dQ, dK, dV; keys and values past each
    /// sequence's length are NaN, so a kernel that reads them fails.
    static func attention(_ c: AttentionCase, _ backend: any Backend, _ rng: inout SeededGenerator, backward: Bool) throws -> Double {
        let qShape: Shape = [c.batch, c.lq, c.heads, c.dim], kShape: Shape = [c.batch, c.lk, c.kvHeads, c.dim]
        let q = draw(qShape.elementCount, scale: 2, &rng), k = c.poisonPadding(draw(kShape.elementCount, scale: 2, &rng))
        let v = c.poisonPadding(draw(kShape.elementCount, &rng)), dO = draw(qShape.elementCount, &rng)
        let layout = try c.layout()
        let options = AttentionOptions(scale: 1 / Float(c.dim).squareRoot(),
                                       keyLengths: try c.keyLengths.map { try backend.tensor($0, shape: [c.batch], dtype: .i32) },
                                       queryOffset: c.queryOffset, headLayouts: try c.perHead?())
        let (tq, tk, tv) = (try backend.tensor(q, shape: qShape), try backend.tensor(k, shape: kShape), try backend.tensor(v, shape: kShape))
        let o = try poisoned(backend, qShape), lse = try poisoned(backend, [c.batch, c.heads, c.lq])
        try backend.attention(tq, tk, tv, layout: layout, options: options, into: o, logSumExp: lse)
        let ref = ReferenceAttention(c: c, layout: layout, q: q.map(Double.init), k: k.map(Double.init), v: v.map(Double.init))
        guard backward else {
            let want = ref.forward(), gotLSE = try backend.floats(lse)
            let finite = want.lse.indices.filter { want.lse[$0].isFinite }
            let emptyRowsRight = want.lse.indices.allSatisfy { want.lse[$0].isFinite || gotLSE[$0] == -.infinity }
            return worst([nmse(try backend.floats(o), want.o), nmse(finite.map { gotLSE[$0] }, finite.map { want.lse[$0] }),
                          emptyRowsRight ? 0 : .nan])
        }
        let grads = AttentionGradients(dq: try poisoned(backend, qShape), dk: try poisoned(backend, kShape), dv: try poisoned(backend, kShape))
        try backend.attentionBackward(tq, tk, tv, output: o, logSumExp: lse, gradOutput: try backend.tensor(dO, shape: qShape),
                                      layout: layout, options: options, into: grads)
        let want = ref.gradients(dO: dO.map(Double.init))
        return worst([nmse(try backend.floats(grads.dq), want.dq), nmse(try backend.floats(grads.dk), want.dk),
                      nmse(try backend.floats(grads.dv), want.dv)])
    }
}
