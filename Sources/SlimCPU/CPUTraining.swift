import CPUKernels
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The backward passes and the optimizer of a training step (issue #7), as
// plain loops over rows or elements on every core. Every sum that crosses rows
// (dGamma, dBeta, the embedding scatter) runs in row order for each feature,
// so results do not depend on how the work was split.

extension CPUBackend {
    /// `dx = dy · (Φ(x) + x·φ(x))`, the derivative of the exact GELU `x·Φ(x)`,
    /// vectorised in C (slim_gelu_backward: a libm erfc and exp per element was
    /// 5 % of a distillation step).
    public func geluBackward(_ x: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws {
        try checkGeluBackward(x, dy: dy, dx: dx, on: id)
        let xp = x.hostFloats, dyp = dy.hostFloats, dxp = dx.hostFloats, isa = isa.rawValue
        parallelChunks(x.elementCount, grain: 1 << 14) { range in
            slim_gelu_backward(xp + range.lowerBound, dyp + range.lowerBound, dxp + range.lowerBound, range.count, isa)
        }
    }

    /// `dx = y ∘ (dy − Σ dy∘y)` per row.
    public func softmaxRowsBackward(_ y: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws {
        try checkSoftmaxBackward(y, dy: dy, dx: dx, on: id)
        let width = y.shape.innermost, yp = y.hostFloats, dyp = dy.hostFloats, dxp = dx.hostFloats
        parallelChunks(y.shape.outerCount, grain: max(1, 4096 / max(width, 1))) { rows in
            for r in rows {
                let yr = yp + r * width, gr = dyp + r * width, out = dxp + r * width
                var dot: Float = 0
                for j in 0..<width { dot += yr[j] * gr[j] }
                for j in 0..<width { out[j] = yr[j] * (gr[j] - dot) }
            }
        }
    }

    /// With `x̂ = (x − mean)·rstd` from the saved statistics and `g = dy ∘ gamma`:
    /// `dx = rstd · (g − mean(g) − x̂ · mean(g ∘ x̂))` per row, and over rows
    /// `dGamma = Σ dy ∘ x̂`, `dBeta = Σ dy` (written, not accumulated).
    public func layerNormBackward(_ x: Tensor, gamma: Tensor, stats: NormStatistics, gradOutput dy: Tensor,
                                  into grads: LayerNormGradients) throws {
        try checkLayerNormBackward(x, gamma: gamma, stats: stats, dy: dy, grads: grads, on: id)
        let rowCount = x.shape.outerCount, width = x.shape.innermost
        let xp = x.hostFloats, gp = gamma.hostFloats, dyp = dy.hostFloats, dxp = grads.dx.hostFloats
        let meanp = stats.mean.hostFloats, rstdp = stats.rstd.hostFloats
        parallelChunks(rowCount, grain: max(1, 4096 / max(width, 1))) { rows in
            for r in rows {
                let xr = xp + r * width, gr = dyp + r * width, out = dxp + r * width
                let mean = meanp[r], rstd = rstdp[r]
                var sumG: Float = 0, sumGX: Float = 0
                for j in 0..<width {
                    let g = gr[j] * gp[j]
                    sumG += g
                    sumGX += g * (xr[j] - mean) * rstd
                }
                let meanG = sumG / Float(width), meanGX = sumGX / Float(width)
                for j in 0..<width {
                    let xhat = (xr[j] - mean) * rstd
                    out[j] = rstd * (gr[j] * gp[j] - meanG - xhat * meanGX)
                }
            }
        }
        let dgp = grads.dGamma.hostFloats, dbp = grads.dBeta.hostFloats
        parallelChunks(width, grain: 64) { features in
            for j in features { dgp[j] = 0; dbp[j] = 0 }
            for r in 0..<rowCount {
                let xr = xp + r * width, gr = dyp + r * width
                let mean = meanp[r], rstd = rstdp[r]
                for j in features {
                    dgp[j] += gr[j] * (xr[j] - mean) * rstd
                    dbp[j] += gr[j]
                }
            }
        }
    }

    /// `gradTable[ids[i]] += dy[i]` for every id in `0..<rows`, in id order for
    /// each feature; rows of `dy` whose id lies outside the table are skipped.
    public func embeddingBackward(_ ids: Tensor, gradOutput dy: Tensor, into gradTable: Tensor) throws {
        try checkEmbeddingBackward(ids, dy: dy, gradTable: gradTable, on: id)
        let rows = gradTable.shape[0], width = gradTable.shape[1], count = ids.elementCount
        let idp = ids.hostBytes.assumingMemoryBound(to: Int32.self), dyp = dy.hostFloats, tp = gradTable.hostFloats
        // Split by feature, not by id: two ids may name the same row.
        parallelChunks(width, grain: max(16, 16384 / max(count, 1))) { features in
            for i in 0..<count {
                let row = Int(idp[i])
                guard (0..<rows).contains(row) else { continue }
                let src = dyp + i * width, dst = tp + row * width
                for j in features { dst[j] += src[j] }
            }
        }
    }

    /// `g = gradientScale · gradient`; `param −= lr·wd·param`; moments updated;
    /// `param −= lr · m̂ / (√v̂ + eps)` with the bias corrections of step `t`.
    public func adamW(_ param: Tensor, gradient: Tensor, state: AdamWState, step: AdamWStep) throws {
        try checkAdamW(param, gradient: gradient, state: state, step: step, on: id)
        let k = AdamWConstants(step)
        let pp = param.hostFloats, gp = gradient.hostFloats, mp = state.m.hostFloats, vp = state.v.hostFloats
        parallelChunks(param.elementCount, grain: 1 << 14) { range in
            for i in range {
                let g = gp[i] * k.gradientScale
                let m = k.beta1 * mp[i] + k.oneMinusBeta1 * g
                let v = k.beta2 * vp[i] + k.oneMinusBeta2 * g * g
                mp[i] = m
                vp[i] = v
                pp[i] = pp[i] * k.decay - k.learningRate * (m * k.correction1) / ((v * k.correction2).squareRoot() + k.epsilon)
            }
        }
    }
}

/// The per-step scalars of AdamW.
struct AdamWConstants {
    let learningRate, beta1, beta2, oneMinusBeta1, oneMinusBeta2, epsilon, decay, gradientScale: Float
    /// `1 / (1 − β₁ᵗ)` and `1 / (1 − β₂ᵗ)`.
    let correction1, correction2: Float

    init(_ s: AdamWStep) {
        learningRate = s.learningRate
        beta1 = s.beta1
        beta2 = s.beta2
        oneMinusBeta1 = 1 - s.beta1
        oneMinusBeta2 = 1 - s.beta2
        epsilon = s.epsilon
        decay = s.decayFactor
        gradientScale = s.gradientScale
        (correction1, correction2) = s.biasCorrections
    }
}
