import Foundation
import SlimCore
import Testing

/// float64 attention forward and its analytic gradients, with the masking of `AttentionShape`.
struct ReferenceAttention {
    let c: AttentionCase
    let layout: BlockSparseLayout
    let q: [Double], k: [Double], v: [Double]

    var scale: Double { 1 / Double(c.dim).squareRoot() }

    func keys(_ b: Int, _ i: Int, _ h: Int) -> [Int] {
        let valid = Int(c.keyLengths?[b] ?? Int32(c.lk))
        let lay = (try? c.layout(head: h)) ?? layout
        return (0..<c.lk).filter { j in j < valid && lay.sees(query: i, key: j, queryOffset: c.queryOffset) }
    }
    func qi(_ b: Int, _ i: Int, _ h: Int) -> Int { ((b * c.lq + i) * c.heads + h) * c.dim }
    func kj(_ b: Int, _ j: Int, _ h: Int) -> Int { ((b * c.lk + j) * c.kvHeads + h / (c.heads / c.kvHeads)) * c.dim }

    func probabilities(_ b: Int, _ i: Int, _ h: Int) -> [(Int, Double)] {
        let js = keys(b, i, h)
        guard !js.isEmpty else { return [] }
        let s = js.map { j in (0..<c.dim).reduce(0.0) { $0 + q[qi(b, i, h) + $1] * k[kj(b, j, h) + $1] } * scale }
        let peak = s.max()!, e = s.map { exp($0 - peak) }, total = e.reduce(0, +)
        return zip(js, e.map { $0 / total }).map { ($0, $1) }
    }

    func forward() -> [Double] {
        var o = [Double](repeating: 0, count: q.count)
        for b in 0..<c.batch { for h in 0..<c.heads { for i in 0..<c.lq {
            for (j, p) in probabilities(b, i, h) { for e in 0..<c.dim { o[qi(b, i, h) + e] += p * v[kj(b, j, h) + e] } }
        } } }
        return o
    }

    func gradients(dO: [Double]) -> (dq: [Double], dk: [Double], dv: [Double]) {
        var dq = [Double](repeating: 0, count: q.count), dk = [Double](repeating: 0, count: k.count), dv = dk
        for b in 0..<c.batch { for h in 0..<c.heads { for i in 0..<c.lq {
            let ps = probabilities(b, i, h), qo = qi(b, i, h)
            let dp = ps.map { j, _ in (0..<c.dim).reduce(0.0) { $0 + dO[qo + $1] * v[kj(b, j, h) + $1] } }
            let delta = zip(ps, dp).reduce(0.0) { $0 + $1.0.1 * $1.1 }
            for ((j, p), dpj) in zip(ps, dp) {
                let ds = p * (dpj - delta), ko = kj(b, j, h)
                for e in 0..<c.dim {
                    dv[ko + e] += p * dO[qo + e]
                    dq[qo + e] += scale * ds * k[ko + e]
                    dk[ko + e] += scale * ds * q[qo + e]
                }
            }
        } } }
        return (dq, dk, dv)
    }
}

@Suite struct AttentionBackwardConformance {
    static let cases = AttentionCase.all.filter { ["dense padded", "causal GQA", "block-sparse", "cache with room", "window + global", "per-head layouts"].contains($0.name) }

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
        try backend.attentionBackward(tq, tk, tv, output: o, logSumExp: lse, gradOutput: try backend.tensor(dO, shape: qShape),
                                      layout: layout, options: options, into: grads)
        let ref = ReferenceAttention(c: c, layout: layout, q: q.map(Double.init), k: k.map(Double.init), v: v.map(Double.init))
        let want = ref.gradients(dO: dO.map(Double.init))
        for (name, got, w) in [("dQ", grads.dq, want.dq), ("dK", grads.dk, want.dk), ("dV", grads.dv, want.dv)] {
            let values = try backend.floats(got)
            #expect(values.allSatisfy { $0.isFinite }, "\(c.name) \(name): every element written and finite")
            #expect(nmse(values, w) <= 1e-7, "\(c.name) \(name): NMSE \(nmse(values, w)), seed \(inputs.seed)")
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
            zip(ReferenceAttention(c: c, layout: layout, q: q, k: k, v: v).forward(), dO).reduce(0) { $0 + $1.0 * $1.1 }
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
