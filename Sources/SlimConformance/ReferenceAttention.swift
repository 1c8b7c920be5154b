import Foundation
import SlimCore

/// float64 attention forward (output and log-sum-exp) and its analytic
/// gradients, with the masking rules of ``AttentionShape``: a key is seen when
/// it is inside its sequence's length and the head's layout lets the query see it.
/// The inner loops run over raw buffers: the suite is built without
/// optimisation, where closures and `reduce` cost ~30x (head dimension 128
/// made the reference the suite's slowest part).
public struct ReferenceAttention: Sendable {
    public let c: AttentionCase
    public let q: [Double], k: [Double], v: [Double]
    /// Each head's layout, built once.
    private let headLayouts: [BlockSparseLayout]

    public init(c: AttentionCase, layout: BlockSparseLayout, q: [Double], k: [Double], v: [Double]) {
        (self.c, self.q, self.k, self.v) = (c, q, k, v)
        let perHead = (try? c.perHead?()) ?? nil
        headLayouts = (0..<c.heads).map { perHead?[$0] ?? layout }
    }

    public init(_ c: AttentionCase, q: [Float], k: [Float], v: [Float]) throws {
        self.init(c: c, layout: try c.layout(), q: q.map(Double.init), k: k.map(Double.init), v: v.map(Double.init))
    }

    public var scale: Double { 1 / Double(c.dim).squareRoot() }

    public func keys(_ b: Int, _ i: Int, _ h: Int) -> [Int] {
        let valid = Int(c.keyLengths?[b] ?? Int32(c.lk)), layout = headLayouts[h]
        return (0..<c.lk).filter { j in j < valid && layout.sees(query: i, key: j, queryOffset: c.queryOffset) }
    }
    public func qi(_ b: Int, _ i: Int, _ h: Int) -> Int { ((b * c.lq + i) * c.heads + h) * c.dim }
    public func kj(_ b: Int, _ j: Int, _ h: Int) -> Int { ((b * c.lk + j) * c.kvHeads + h / (c.heads / c.kvHeads)) * c.dim }

    /// `Σ_e x[xo + e]·y[yo + e]` over one head's features.
    public func dot(_ x: [Double], _ xo: Int, _ y: [Double], _ yo: Int) -> Double {
        x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                var sum = 0.0
                for e in 0..<c.dim { sum += x[xo + e] * y[yo + e] }
                return sum
            }
        }
    }

    /// `y[yo + e] += alpha·x[xo + e]` over one head's features.
    private func axpy(_ y: inout [Double], _ yo: Int, _ alpha: Double, _ x: [Double], _ xo: Int) {
        let d = c.dim
        y.withUnsafeMutableBufferPointer { y in x.withUnsafeBufferPointer { x in for e in 0..<d { y[yo + e] += alpha * x[xo + e] } } }
    }

    /// The softmax of query (b, i, h)'s scores over the keys it sees, and its log-sum-exp (−∞ when it sees none).
    public func probabilities(_ b: Int, _ i: Int, _ h: Int) -> (keys: [(Int, Double)], lse: Double) {
        let js = keys(b, i, h)
        guard !js.isEmpty else { return ([], -.infinity) }
        let s = js.map { j in dot(q, qi(b, i, h), k, kj(b, j, h)) * scale }
        let peak = s.max()!, e = s.map { exp($0 - peak) }, total = e.reduce(0, +)
        return (zip(js, e.map { $0 / total }).map { ($0, $1) }, peak + log(total))
    }

    public func forward() -> (o: [Double], lse: [Double]) {
        var o = [Double](repeating: 0, count: q.count), lse = [Double](repeating: -.infinity, count: c.batch * c.heads * c.lq)
        for b in 0..<c.batch { for h in 0..<c.heads { for i in 0..<c.lq {
            let (ps, rowLSE) = probabilities(b, i, h)
            for (j, p) in ps { axpy(&o, qi(b, i, h), p, v, kj(b, j, h)) }
            lse[(b * c.heads + h) * c.lq + i] = rowLSE
        } } }
        return (o, lse)
    }

    public func gradients(dO: [Double]) -> (dq: [Double], dk: [Double], dv: [Double]) {
        var dq = [Double](repeating: 0, count: q.count), dk = [Double](repeating: 0, count: k.count), dv = dk
        for b in 0..<c.batch { for h in 0..<c.heads { for i in 0..<c.lq {
            let ps = probabilities(b, i, h).keys, qo = qi(b, i, h)
            let dp = ps.map { j, _ in dot(dO, qo, v, kj(b, j, h)) }
            let delta = zip(ps, dp).reduce(0.0) { $0 + $1.0.1 * $1.1 }
            for ((j, p), dpj) in zip(ps, dp) {
                let ds = p * (dpj - delta), ko = kj(b, j, h)
                axpy(&dv, ko, p, dO, qo)
                axpy(&dq, qo, scale * ds, k, ko)
                axpy(&dk, ko, scale * ds, q, qo)
            }
        } } }
        return (dq, dk, dv)
    }
}
