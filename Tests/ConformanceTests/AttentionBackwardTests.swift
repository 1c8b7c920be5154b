import Foundation
import SlimConformance
import SlimCore
import Testing

@Suite struct AttentionBackwardConformance {
    static let cases = AttentionCase.all.filter { ["dense padded", "causal GQA", "block-sparse", "cache with room", "window + global", "per-head layouts"].contains($0.name) }
        + AttentionCase.headDim128 + AttentionCase.oddBlocks

    @Test(arguments: Subjects.all, cases)
    func gradientsMatchFloat64(_ subject: Subject, _ c: AttentionCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let qShape: Shape = [c.batch, c.lq, c.heads, c.dim], kShape: Shape = [c.batch, c.lk, c.kvHeads, c.dim]
        let q = inputs.floats(qShape.elementCount, scale: 2), k = c.poisonPadding(inputs.floats(kShape.elementCount, scale: 2))
        let v = c.poisonPadding(inputs.floats(kShape.elementCount)), dO = inputs.floats(qShape.elementCount)
        let layout = try c.layout()
        let options = AttentionOptions(scale: 1 / Float(c.dim).squareRoot(),
                                       keyLengths: try c.keyLengths.map { try backend.tensor($0, shape: [c.batch], dtype: .i32) },
                                       queryOffset: c.queryOffset, headLayouts: try c.perHead?())
        let (tq, tk, tv) = (try backend.tensor(q, shape: qShape), try backend.tensor(k, shape: kShape), try backend.tensor(v, shape: kShape))
        let o = try poisoned(backend, qShape), lse = try poisoned(backend, [c.batch, c.heads, c.lq])
        try backend.attention(tq, tk, tv, layout: layout, options: options, into: o, logSumExp: lse)
        let grads = AttentionGradients(dq: try poisoned(backend, qShape), dk: try poisoned(backend, kShape), dv: try poisoned(backend, kShape))
        try subject.expectPaths(c.name, ExpectedPaths.attention) {
            try backend.attentionBackward(tq, tk, tv, output: o, logSumExp: lse, gradOutput: try backend.tensor(dO, shape: qShape),
                                          layout: layout, options: options, into: grads)
        }
        let ref = ReferenceAttention(c: c, layout: layout, q: q.map(Double.init), k: k.map(Double.init), v: v.map(Double.init))
        let want = ref.gradients(dO: dO.map(Double.init))
        for (name, got, w) in [("dQ", grads.dq, want.dq), ("dK", grads.dk, want.dk), ("dV", grads.dv, want.dv)] {
            let values = try backend.floats(got)
            #expect(values.allSatisfy { $0.isFinite }, "\(c.name) \(name): every element written and finite")
            #expect(nmse(values, w) <= 1e-7, "\(c.name) \(name): NMSE \(nmse(values, w)), seed \(inputs.seed)")
        }
    }

    /// Rows that see no key (a window past a sequence's last valid key: output 0,
    /// log-sum-exp −∞) share blocks with rows that do. Their output gradient may
    /// be anything, NaN and ±∞ included (a loss need not mask rows whose output
    /// is defined as zero): they contribute nothing, and every gradient stays
    /// finite and equal to the float64 one with those rows' dO set to 0. (The CPU
    /// backend's dS = P ∘ (dP − Δ) once made 0 · NaN there, and NaN spread to
    /// every key's dK.)
    @Test(arguments: Subjects.all)
    func rowsThatSeeNoKeyContributeNothing(_ subject: Subject) throws {
        let backend = subject.backend
        let c = AttentionCase.all.first { $0.name == "causal window" }!
        var inputs = Inputs(subject, c)
        let qShape: Shape = [c.batch, c.lq, c.heads, c.dim], kShape: Shape = [c.batch, c.lk, c.kvHeads, c.dim]
        let q = inputs.floats(qShape.elementCount, scale: 2), k = c.poisonPadding(inputs.floats(kShape.elementCount, scale: 2))
        let v = c.poisonPadding(inputs.floats(kShape.elementCount))
        var dO = inputs.floats(qShape.elementCount)
        let layout = try c.layout()
        let options = AttentionOptions(scale: 1 / Float(c.dim).squareRoot(),
                                       keyLengths: try c.keyLengths.map { try backend.tensor($0, shape: [c.batch], dtype: .i32) })
        let (tq, tk, tv) = (try backend.tensor(q, shape: qShape), try backend.tensor(k, shape: kShape), try backend.tensor(v, shape: kShape))
        let o = try poisoned(backend, qShape), lse = try poisoned(backend, [c.batch, c.heads, c.lq])
        try backend.attention(tq, tk, tv, layout: layout, options: options, into: o, logSumExp: lse)
        // lse is [batch, heads, lq]; dO is [batch, lq, heads, dim].
        let sums = try backend.floats(lse)
        var blind: [(b: Int, i: Int, h: Int)] = []
        for b in 0..<c.batch { for h in 0..<c.heads { for i in 0..<c.lq where sums[(b * c.heads + h) * c.lq + i] == -.infinity {
            blind.append((b, i, h))
        } } }
        #expect(!blind.isEmpty, "the case has rows that see no key")
        var cleared = dO
        let junk: [Float] = [.nan, .infinity, -.infinity, 1e30]
        for (n, r) in blind.enumerated() {
            let at = ((r.b * c.lq + r.i) * c.heads + r.h) * c.dim
            for e in 0..<c.dim { dO[at + e] = junk[(n + e) % junk.count]; cleared[at + e] = 0 }
        }
        let grads = AttentionGradients(dq: try poisoned(backend, qShape), dk: try poisoned(backend, kShape), dv: try poisoned(backend, kShape))
        try backend.attentionBackward(tq, tk, tv, output: o, logSumExp: lse, gradOutput: try backend.tensor(dO, shape: qShape),
                                      layout: layout, options: options, into: grads)
        let want = ReferenceAttention(c: c, layout: layout, q: q.map(Double.init), k: k.map(Double.init), v: v.map(Double.init))
            .gradients(dO: cleared.map(Double.init))
        for (name, got, w) in [("dQ", grads.dq, want.dq), ("dK", grads.dk, want.dk), ("dV", grads.dv, want.dv)] {
            let values = try backend.floats(got)
            #expect(values.allSatisfy { $0.isFinite }, "\(name): finite beside \(blind.count) rows that see no key")
            #expect(nmse(values, w) <= 1e-7, "\(name): NMSE \(nmse(values, w)), seed \(inputs.seed)")
        }
    }

    /// The analytic float64 gradients themselves, against central differences of the float64 forward.
    @Test func referenceGradientsMatchFiniteDifferences() throws {
        let c = AttentionCase.all.first { $0.name == "window + global" }!
        var inputs = Inputs()
        let n = c.batch * c.lq * c.heads * c.dim
        let q = inputs.floats(n).map(Double.init), k = inputs.floats(n).map(Double.init), v = inputs.floats(n).map(Double.init)
        let dO = inputs.floats(n).map(Double.init), layout = try c.layout()
        let g = ReferenceAttention(c: c, layout: layout, q: q, k: k, v: v).gradients(dO: dO)
        func loss(_ q: [Double], _ k: [Double], _ v: [Double]) -> Double {
            zip(ReferenceAttention(c: c, layout: layout, q: q, k: k, v: v).forward().o, dO).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let eps = 1e-5
        for index in stride(from: 3, to: n, by: n / 7) {
            for (which, analytic) in [(0, g.dq[index]), (1, g.dk[index]), (2, g.dv[index])] {
                var plus = [q, k, v], minus = [q, k, v]
                plus[which][index] += eps
                minus[which][index] -= eps
                let numeric = (loss(plus[0], plus[1], plus[2]) - loss(minus[0], minus[1], minus[2])) / (2 * eps)
                #expect(abs(numeric - analytic) <= 1e-6 + 1e-5 * abs(analytic), "input \(which) element \(index): \(numeric) vs \(analytic)")
            }
        }
    }
}
