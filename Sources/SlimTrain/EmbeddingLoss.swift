import Foundation

/// The distillation loss on sentence embeddings: the student's mean-pooled
/// vector is L2-normalised (as sentence-transformers' `Normalize` does), then
/// compared with the teacher's normalised vector by
/// `mse · mean((e − t)²) + cosine · mean over sentences of (1 − cos(e, t))`.
///
/// It runs on the host in float64: `[batch, hidden]` is a few thousand numbers,
/// and the normalisation's backward has no backend op (per-row scales).
public struct EmbeddingLoss: Sendable, Equatable {
    public var mse: Double, cosine: Double
    public init(mse: Double = 1, cosine: Double = 1) { self.mse = mse; self.cosine = cosine }

    /// `v / max(‖v‖, 1e-12)`, sentence-transformers' normalisation.
    public static func normalized(_ v: [Double]) -> [Double] {
        let n = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return v.map { $0 / n }
    }

    /// The loss and its gradient with respect to the pooled (not yet normalised) vectors, both row-major `[batch, width]`.
    public func evaluate(pooled: [Double], targets: [Double], width: Int) -> (loss: Double, gradient: [Double]) {
        let batch = pooled.count / width
        var loss = 0.0, gradient = [Double](repeating: 0, count: pooled.count)
        for s in 0..<batch {
            let r = s * width..<(s + 1) * width
            let p = Array(pooled[r]), t = Array(targets[r])
            let norm = p.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let e = Self.normalized(p)
            var de = [Double](repeating: 0, count: width)
            if mse != 0 {
                let scale = mse / Double(pooled.count)
                for i in 0..<width {
                    let d = e[i] - t[i]
                    loss += scale * d * d
                    de[i] += scale * 2 * d
                }
            }
            if cosine != 0 {
                let ee = e.reduce(0) { $0 + $1 * $1 }.squareRoot(), tt = max(t.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-8)
                let et = zip(e, t).reduce(0) { $0 + $1.0 * $1.1 }
                let cos = et / (max(ee, 1e-8) * tt)
                loss += cosine * (1 - cos) / Double(batch)
                for i in 0..<width {
                    de[i] -= cosine / Double(batch) * (t[i] / (max(ee, 1e-8) * tt) - cos * e[i] / max(ee * ee, 1e-16))
                }
            }
            // e = p/‖p‖: dp = (de − e (e·de)) / ‖p‖ (a zero vector passes nothing back).
            guard norm > 1e-12 else { continue }
            let dot = zip(e, de).reduce(0) { $0 + $1.0 * $1.1 }
            for i in 0..<width { gradient[s * width + i] = (de[i] - e[i] * dot) / norm }
        }
        return (loss, gradient)
    }
}
