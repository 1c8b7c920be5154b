import Foundation
import SlimConformance
import SlimCore
import Testing

/// float64 attention scores and their backward, with the visibility of ``ReferenceAttention``.
struct ReferenceScores {
    let ref: ReferenceAttention
    var c: AttentionCase { ref.c }

    func at(_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> Int { ((b * c.heads + h) * c.lq + i) * c.lk + j }

    /// Scores of visible pairs; nil where the pair is masked.
    func forward() -> [Double?] {
        var s = [Double?](repeating: nil, count: c.batch * c.heads * c.lq * c.lk)
        for b in 0..<c.batch { for h in 0..<c.heads { for i in 0..<c.lq { for j in ref.keys(b, i, h) {
            s[at(b, h, i, j)] = ref.dot(ref.q, ref.qi(b, i, h), ref.k, ref.kj(b, j, h)) * ref.scale
        } } } }
        return s
    }

    /// `Σ dS·S` over visible pairs, the scalar whose gradient the backward is.
    func loss(_ dS: [Double]) -> Double {
        zip(forward(), dS).reduce(0.0) { total, pair in total + (pair.0 ?? 0) * pair.1 }
    }

    func gradients(_ dS: [Double]) -> (dq: [Double], dk: [Double]) {
        var dq = [Double](repeating: 0, count: ref.q.count), dk = [Double](repeating: 0, count: ref.k.count)
        for b in 0..<c.batch { for h in 0..<c.heads { for i in 0..<c.lq { for j in ref.keys(b, i, h) {
            let g = ref.scale * dS[at(b, h, i, j)], qo = ref.qi(b, i, h), ko = ref.kj(b, j, h)
            for e in 0..<c.dim { dq[qo + e] += g * ref.k[ko + e]; dk[ko + e] += g * ref.q[qo + e] }
        } } } }
        return (dq, dk)
    }
}

@Suite struct AttentionScoresConformance {
    /// The shape the distillation loss uses, at sizes no tile divides: 37 tokens, head dimension 24, two key lengths.
    static let ragged = AttentionCase(name: "ragged 37×24", batch: 2, lq: 37, lk: 37, heads: 3, kvHeads: 3, dim: 24, block: 16,
                                      keyLengths: [37, 29])
    /// A head dimension over 128: the OpenCL kernels' smaller tile (8) and several features per work-item.
    static let wideHeads = AttentionCase(name: "head dim 136", batch: 1, lq: 19, lk: 19, heads: 2, kvHeads: 1, dim: 136, block: 16,
                                         keyLengths: [13])
    static let cases = [ragged, wideHeads] + AttentionCase.all.filter {
        ["causal GQA", "block-sparse", "cache with room", "window + global", "per-head layouts", "MiniLM-shaped"].contains($0.name)
    }

    struct Run {
        let ref: ReferenceScores, q: Tensor, k: Tensor, layout: BlockSparseLayout, options: AttentionOptions
    }

    static func setUp(_ backend: any Backend, _ c: AttentionCase, _ inputs: inout Inputs) throws -> Run {
        let qShape: Shape = [c.batch, c.lq, c.heads, c.dim], kShape: Shape = [c.batch, c.lk, c.kvHeads, c.dim]
        // NaN keys past each length: a kernel that reads them for a visible score fails.
        let q = inputs.floats(qShape.elementCount, scale: 2), k = c.poisonPadding(inputs.floats(kShape.elementCount, scale: 2))
        let layout = try c.layout()
        let options = AttentionOptions(scale: 1 / Float(c.dim).squareRoot(),
                                       keyLengths: try c.keyLengths.map { try backend.tensor($0, shape: [c.batch], dtype: .i32) },
                                       queryOffset: c.queryOffset, headLayouts: try c.perHead?())
        let ref = ReferenceScores(ref: ReferenceAttention(c: c, layout: layout, q: q.map(Double.init), k: k.map(Double.init), v: []))
        return Run(ref: ref, q: try backend.tensor(q, shape: qShape), k: try backend.tensor(k, shape: kShape), layout: layout, options: options)
    }

    @Test(arguments: Subjects.all, cases)
    func scoresMatchFloat64AndMaskTheRest(_ subject: Subject, _ c: AttentionCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let run = try Self.setUp(backend, c, &inputs)
        let scores = try poisoned(backend, [c.batch, c.heads, c.lq, c.lk])
        try backend.attentionScores(run.q, run.k, layout: run.layout, options: run.options, into: scores)
        let got = try backend.floats(scores), want = run.ref.forward()
        let visible = want.indices.filter { want[$0] != nil }
        #expect(!visible.isEmpty && visible.count < want.count, "\(c.name): the case has both visible and masked pairs")
        // fp32 dot products of ≤ 64 terms of size ≤ 4: NMSE 1e-7 as for GEMM, and each within 1e-4 absolute.
        #expect(nmse(visible.map { got[$0] }, visible.map { want[$0]! }) <= 1e-7, "\(c.name) scores, seed \(inputs.seed)")
        expectClose(visible.map { got[$0] }, visible.map { want[$0]! }, rtol: 1e-4, atol: 1e-4, "\(c.name) scores, seed \(inputs.seed)")
        let wrongMask = want.indices.filter { want[$0] == nil && got[$0] != attentionScoreMask }
        #expect(wrongMask.isEmpty, "\(c.name): \(wrongMask.count) masked entries are not the mask value (first \(wrongMask.first.map { got[$0] } ?? 0))")
        // The mask gives probability 0 and a finite KL where both sides mask the same keys.
        let perRow = try backend.allocate([c.batch * c.heads * c.lq], name: "kl")
        let gradient = try poisoned(backend, scores.shape)
        try backend.softmaxLossRows(scores, target: .logits(scores), temperature: 1, loss: perRow, gradient: gradient, gradientScale: 1)
        #expect(try backend.floats(perRow).allSatisfy { $0.isFinite && abs($0) < 1e-5 }, "\(c.name): KL of scores with themselves is 0")
        #expect(try backend.floats(gradient).allSatisfy { $0.isFinite }, "\(c.name): its gradient is finite")
    }

    @Test(arguments: Subjects.all, cases)
    func backwardAddsTheFloat64Gradients(_ subject: Subject, _ c: AttentionCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let run = try Self.setUp(backend, c, &inputs)
        let visible = run.ref.forward().map { $0 != nil }
        // NaN where masked: the backward must ignore dS there, whatever it holds.
        let dS = zip(inputs.floats(visible.count), visible).map { $1 ? $0 : Float.nan }
        let dq0 = inputs.floats(run.q.elementCount), dk0 = c.poisonPadding(inputs.floats(run.k.elementCount))
        let dq = try backend.tensor(dq0, shape: run.q.shape), dk = try backend.tensor(dk0, shape: run.k.shape)
        try backend.attentionScoresBackward(run.q, run.k, gradScores: try backend.tensor(dS, shape: [c.batch, c.heads, c.lq, c.lk]),
                                            layout: run.layout, options: run.options, accumulatingInto: dq, dk: dk)
        let want = run.ref.gradients(dS.map { $0.isNaN ? 0 : Double($0) })
        // Accumulated: the result is what the tensors held plus the gradient (padded keys keep their NaN).
        for (name, got, start, w) in [("dQ", dq, dq0, want.dq), ("dK", dk, dk0, want.dk)] {
            let values = try backend.floats(got), kept = start.indices.filter { !start[$0].isNaN }
            #expect(start.indices.allSatisfy { start[$0].isNaN == values[$0].isNaN }, "\(c.name) \(name): NaN exactly where it was")
            let expected = kept.map { Double(start[$0]) + w[$0] }, actual = kept.map { values[$0] }
            #expect(nmse(actual, expected) <= 1e-7, "\(c.name) \(name): NMSE \(nmse(actual, expected)), seed \(inputs.seed)")
            expectClose(actual, expected, rtol: 1e-4, atol: 1e-4, "\(c.name) \(name), seed \(inputs.seed)")
        }
    }

    /// The float64 analytic gradients against central differences of the float64 forward.
    @Test func referenceGradientsMatchFiniteDifferences() throws {
        let c = Self.ragged
        var inputs = Inputs()
        let q = inputs.floats(c.batch * c.lq * c.heads * c.dim).map(Double.init)
        let k = inputs.floats(c.batch * c.lk * c.kvHeads * c.dim).map(Double.init)
        let dS = inputs.floats(c.batch * c.heads * c.lq * c.lk).map(Double.init), layout = try c.layout()
        func reference(_ q: [Double], _ k: [Double]) -> ReferenceScores {
            ReferenceScores(ref: ReferenceAttention(c: c, layout: layout, q: q, k: k, v: []))
        }
        let g = reference(q, k).gradients(dS)
        let eps = 1e-4
        for index in stride(from: 5, to: q.count, by: q.count / 9) {
            for (which, analytic) in [(0, g.dq[index]), (1, g.dk[index])] {
                var plus = [q, k], minus = [q, k]
                plus[which][index] += eps
                minus[which][index] -= eps
                let numeric = (reference(plus[0], plus[1]).loss(dS) - reference(minus[0], minus[1]).loss(dS)) / (2 * eps)
                // The loss is bilinear: central differences are exact up to rounding of sums of ~10⁴ terms.
                #expect(abs(numeric - analytic) <= 1e-7 + 1e-6 * abs(analytic), "input \(which) element \(index): \(numeric) vs \(analytic)")
            }
        }
    }

    @Test(arguments: Subjects.all)
    func badOperandsAreNamed(_ subject: Subject) throws {
        let backend = subject.backend
        let c = Self.ragged
        var inputs = Inputs(subject)
        let run = try Self.setUp(backend, c, &inputs)
        let wrong = try backend.allocate([c.batch, c.heads, c.lq, c.lk - 1], name: "short scores")
        #expect { try backend.attentionScores(run.q, run.k, layout: run.layout, options: run.options, into: wrong) } throws: {
            "\($0)".contains("attentionScores") && "\($0)".contains("short scores")
        }
        #expect { try backend.attentionScoresBackward(run.q, run.k, gradScores: wrong, layout: run.layout, options: run.options,
                                                      accumulatingInto: run.q, dk: run.k) } throws: {
            "\($0)".contains("attentionScoresBackward") && "\($0)".contains("short scores")
        }
        let scores = try backend.allocate([c.batch, c.heads, c.lq, c.lk], name: "scores")
        #expect { try backend.attentionScoresBackward(run.q, run.k, gradScores: scores, layout: run.layout, options: run.options,
                                                      accumulatingInto: run.k, dk: run.k) } throws: {
            "\($0)".contains("attentionScoresBackward")
        }
    }
}
