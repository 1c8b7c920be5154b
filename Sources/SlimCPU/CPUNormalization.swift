import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
    /// Numerically stable softmax of each row: `exp(x − max) / Σ exp(x − max)`.
    public func softmaxRows(_ x: Tensor, into out: Tensor) throws {
        try checkRows(x, out: out, perFeature: [], op: "softmaxRows")
        try requireOn(id, [x, out], op: "softmaxRows")
        let width = x.shape.innermost, xp = x.hostFloats, op = out.hostFloats
        parallelChunks(x.shape.outerCount, grain: max(1, 4096 / max(width, 1))) { rows in
            for r in rows {
                let xr = xp + r * width, orow = op + r * width
                var peak = -Float.infinity
                for j in 0..<width { peak = max(peak, xr[j]) }
                var sum: Float = 0
                for j in 0..<width { let e = expf(xr[j] - peak); orow[j] = e; sum += e }
                let inv = 1 / sum
                simdMap(0..<width, orow, orow) { $0 * inv }
            }
        }
    }

    /// Layer norm over the last dimension, with a two-pass variance (the
    /// one-pass `E[x²] − E[x]²` loses digits when the mean is large).
    public func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float, into out: Tensor,
                          saving stats: NormStatistics?) throws {
        try checkLayerNorm(x, gamma: gamma, beta: beta, out: out, stats: stats, on: id)
        let rowsCount = x.shape.outerCount
        let width = x.shape.innermost
        let xp = x.hostFloats, yp = out.hostFloats, g = gamma.hostFloats, bt = beta.hostFloats
        let meanOut = stats?.mean.hostFloats, rstdOut = stats?.rstd.hostFloats
        parallelChunks(rowsCount, grain: max(1, 4096 / max(width, 1))) { rows in
            for r in rows {
                let xr = xp + r * width, yr = yp + r * width
                var sum: Float = 0
                for j in 0..<width { sum += xr[j] }
                let mean = sum / Float(width)
                var sq: Float = 0
                for j in 0..<width { let d = xr[j] - mean; sq += d * d }
                let rstd = 1 / (sq / Float(width) + epsilon).squareRoot()
                for j in 0..<width { yr[j] = (xr[j] - mean) * rstd * g[j] + bt[j] }
                meanOut?[r] = mean
                rstdOut?[r] = rstd
            }
        }
    }
}
