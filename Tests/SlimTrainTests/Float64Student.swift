import Foundation
import SlimModel
import SlimTrain

/// The student's whole forward and loss in float64 on the host, written
/// independently of the backend ops: the reference for finite differences.
struct Float64Student {
    let config: BertConfig
    /// Parameter values by name.
    var values: [String: [Double]]

    /// `attention[l]`: teacher attention logits `[batch, heads, seq, seq]` for layer `l`'s
    /// attention KL (mean over sequence, head and real query row, keys past the length unseen).
    func loss(_ batch: EncoderBatch, targets: [[Float]], losses: EmbeddingLoss, hidden hiddenTargets: [Int: [Float]] = [:],
              hiddenWeight: Double = 1, attention: [Int: [Float]] = [:], attentionWeight: Double = 1) -> Double {
        var hiddenLoss = 0.0, attentionLoss = 0.0
        let c = config, h = c.hiddenSize, L = batch.sequence, rows = batch.batch * L
        func v(_ n: String) -> [Double] { values[n]! }
        func layerNorm(_ x: [Double], _ prefix: String) -> [Double] {
            let g = v(prefix + ".weight"), b = v(prefix + ".bias")
            var out = x
            for r in 0..<rows {
                let row = x[r * h..<(r + 1) * h]
                let mean = row.reduce(0, +) / Double(h)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(h)
                let rstd = 1 / (variance + Double(c.layerNormEpsilon)).squareRoot()
                for i in 0..<h { out[r * h + i] = (x[r * h + i] - mean) * rstd * g[i] + b[i] }
            }
            return out
        }
        func linearNoBias(_ x: [Double], _ name: String, inp: Int, out: Int) -> [Double] {
            let w = v(name)
            return (0..<rows * out).map { at in (0..<inp).reduce(0.0) { $0 + x[at / out * inp + $1] * w[at % out * inp + $1] } }
        }
        func linear(_ x: [Double], _ prefix: String, inp: Int, out: Int) -> [Double] {
            let w = v(prefix + ".weight"), b = v(prefix + ".bias")
            var y = [Double](repeating: 0, count: rows * out)
            for r in 0..<rows {
                for o in 0..<out {
                    var s = b[o]
                    for i in 0..<inp { s += x[r * inp + i] * w[o * inp + i] }
                    y[r * out + o] = s
                }
            }
            return y
        }
        var x = [Double](repeating: 0, count: rows * h)
        let word = v("embeddings.word_embeddings.weight"), pos = v("embeddings.position_embeddings.weight")
        let type = v("embeddings.token_type_embeddings.weight")
        for r in 0..<rows {
            let id = Int(batch.ids[r]), t = Int(batch.tokenTypes[r])
            for i in 0..<h { x[r * h + i] = word[id * h + i] + pos[(r % L) * h + i] + type[t * h + i] }
        }
        x = layerNorm(x, "embeddings.LayerNorm")
        let heads = c.heads, d = c.headDim, scale = 1 / Double(d).squareRoot()
        for l in 0..<c.layers {
            let p = "encoder.layer.\(l)."
            let q = linear(x, p + "attention.self.query", inp: h, out: h)
            let k = linear(x, p + "attention.self.key", inp: h, out: h)
            let vv = linear(x, p + "attention.self.value", inp: h, out: h)
            var context = [Double](repeating: 0, count: rows * h)
            for s in 0..<batch.batch {
                for hd in 0..<heads {
                    for i in 0..<L {
                        let keys = batch.lengths[s]
                        var scores = (0..<keys).map { j in
                            (0..<d).reduce(0.0) { $0 + q[(s * L + i) * h + hd * d + $1] * k[(s * L + j) * h + hd * d + $1] } * scale
                        }
                        let m = scores.max()!
                        if let teacher = attention[l], i < keys {
                            let t = (0..<keys).map { Double(teacher[((s * heads + hd) * L + i) * L + $0]) }
                            let tm = t.max()!, tz = t.reduce(0) { $0 + exp($1 - tm) }
                            let sz = scores.reduce(0) { $0 + exp($1 - m) }
                            let kl = zip(t, scores).reduce(0.0) { total, pair in
                                let logQ = pair.0 - tm - log(tz), logP = pair.1 - m - log(sz)
                                return total + exp(logQ) * (logQ - logP)
                            }
                            attentionLoss += attentionWeight * kl / Double(heads * batch.lengths.reduce(0, +))
                        }
                        scores = scores.map { exp($0 - m) }
                        let z = scores.reduce(0, +)
                        for e in 0..<d {
                            context[(s * L + i) * h + hd * d + e] = (0..<keys).reduce(0.0) {
                                $0 + scores[$1] / z * vv[(s * L + $1) * h + hd * d + e]
                            }
                        }
                    }
                }
            }
            var a = linear(context, p + "attention.output.dense", inp: h, out: h)
            for i in a.indices { a[i] += x[i] }
            let hidden = layerNorm(a, p + "attention.output.LayerNorm")
            let wide = c.intermediateSize
            var u = linear(hidden, p + "intermediate.dense", inp: h, out: wide)
            u = u.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
            var o = linear(u, p + "output.dense", inp: wide, out: h)
            for i in o.indices { o[i] += hidden[i] }
            x = layerNorm(o, p + "output.LayerNorm")
            if let target = hiddenTargets[l] {
                // With a learned projection W [teacher width, h] the student's states are compared as x·Wᵀ.
                let w = values[StudentBert.projectionName(l)]
                let width = w.map { $0.count / h } ?? h
                let predicted = w.map { _ in linearNoBias(x, StudentBert.projectionName(l), inp: h, out: width) } ?? x
                let real = batch.lengths.reduce(0, +) * width
                for r in 0..<rows where r % L < batch.lengths[r / L] {
                    for i in 0..<width {
                        let d = predicted[r * width + i] - Double(target[r * width + i])
                        hiddenLoss += hiddenWeight * d * d / Double(real)
                    }
                }
            }
        }
        var pooled = [Double](repeating: 0, count: batch.batch * h)
        for s in 0..<batch.batch {
            for t in 0..<batch.lengths[s] {
                for i in 0..<h { pooled[s * h + i] += x[(s * L + t) * h + i] / Double(batch.lengths[s]) }
            }
        }
        return losses.evaluate(pooled: pooled, targets: targets.flatMap { $0.map(Double.init) }, width: h).loss + hiddenLoss + attentionLoss
    }
}
