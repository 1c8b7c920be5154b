import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The two row kernels of the losses (Losses.swift composes them): softmax
// against labels or a teacher, and the cosine of two rows, each with its gradient.

extension CPUBackend {
    public func softmaxLossRows(_ logits: Tensor, target: SoftmaxTarget, temperature: Float, loss: Tensor,
                                gradient: Tensor?, gradientScale: Float) throws {
        try checkSoftmaxLoss(logits, target: target, temperature: temperature, loss: loss, gradient: gradient, on: id)
        let width = logits.shape.innermost, invT = 1 / temperature
        let zp = logits.hostFloats, lossp = loss.hostFloats, gp = gradient?.hostFloats
        var teacher: UnsafeMutablePointer<Float>?, labels: UnsafeMutablePointer<Int32>?, ignore: Int32 = 0
        switch target {
        case let .logits(t): teacher = t.hostFloats
        case let .labels(l, ignoreIndex): labels = l.hostBytes.assumingMemoryBound(to: Int32.self); ignore = ignoreIndex
        }
        parallelChunks(logits.shape.outerCount, grain: max(1, 4096 / width)) { rows in
            for r in rows {
                let z = zp + r * width, grad = gp.map { $0 + r * width }
                let lseS = logSumExp(z, width, invT)
                if let teacher {
                    let t = teacher + r * width
                    let lseT = logSumExp(t, width, invT)
                    var kl: Float = 0
                    for j in 0..<width {
                        let logQ = t[j] * invT - lseT, logP = z[j] * invT - lseS, q = expf(logQ)
                        kl += q * (logQ - logP)
                        grad?[j] = gradientScale * (expf(logP) - q)
                    }
                    lossp[r] = kl
                } else if let labels {
                    let label = Int(labels[r])
                    if label == Int(ignore) {
                        lossp[r] = 0
                        grad?.update(repeating: 0, count: width)
                    } else if !(0..<width).contains(label) {
                        lossp[r] = .nan
                        grad?.update(repeating: .nan, count: width)
                    } else {
                        lossp[r] = lseS - z[label] * invT
                        if let grad {
                            for j in 0..<width { grad[j] = gradientScale * (expf(z[j] * invT - lseS) - (j == label ? 1 : 0)) }
                        }
                    }
                }
            }
        }
    }

    public func cosineSimilarityRows(_ a: Tensor, _ b: Tensor, into cosine: Tensor, gradA: Tensor?, gradB: Tensor?,
                                     gradientScale: Float) throws {
        try checkCosineRows(a, b, cosine: cosine, gradA: gradA, gradB: gradB, on: id)
        let width = a.shape.innermost, ap = a.hostFloats, bp = b.hostFloats, cp = cosine.hostFloats
        let gap = gradA?.hostFloats, gbp = gradB?.hostFloats
        parallelChunks(a.shape.outerCount, grain: max(1, 4096 / width)) { rows in
            for r in rows {
                let ar = ap + r * width, br = bp + r * width
                var dot: Float = 0, aa: Float = 0, bb: Float = 0
                for j in 0..<width { dot += ar[j] * br[j]; aa += ar[j] * ar[j]; bb += br[j] * br[j] }
                let k = CosineRow(dot: dot, aa: aa, bb: bb, scale: gradientScale)
                cp[r] = k.cosine
                if let ga = gap.map({ $0 + r * width }) { for j in 0..<width { ga[j] = k.gradAb * br[j] - k.gradAa * ar[j] } }
                if let gb = gbp.map({ $0 + r * width }) { for j in 0..<width { gb[j] = k.gradAb * ar[j] - k.gradBb * br[j] } }
            }
        }
    }
}

/// `log Σ exp(x·invT)` over a row, shifted by its maximum.
private func logSumExp(_ x: UnsafeMutablePointer<Float>, _ width: Int, _ invT: Float) -> Float {
    var peak = -Float.infinity
    for j in 0..<width { peak = max(peak, x[j] * invT) }
    var sum: Float = 0
    for j in 0..<width { sum += expf(x[j] * invT - peak) }
    return peak + logf(sum)
}

/// A row's cosine and the coefficients of its gradients:
/// `∂cos/∂a = b/(‖a‖‖b‖) − cos·a/‖a‖²`, the second term dropped where the norm was clamped.
private struct CosineRow {
    let cosine, gradAb, gradAa, gradBb: Float
    init(dot: Float, aa: Float, bb: Float, scale: Float) {
        let na = aa.squareRoot(), nb = bb.squareRoot()
        let ca = max(na, cosineNormFloor), cb = max(nb, cosineNormFloor)
        cosine = dot / (ca * cb)
        gradAb = scale / (ca * cb)
        gradAa = na > cosineNormFloor ? scale * cosine / aa : 0
        gradBb = nb > cosineNormFloor ? scale * cosine / bb : 0
    }
}
