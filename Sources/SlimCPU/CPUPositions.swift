import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
    public func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float, into out: Tensor) throws {
        try checkRows(x, out: out, perFeature: [weight], op: "rmsNorm")
        try requireOn(id, [x, weight, out], op: "rmsNorm")
        let width = x.shape.innermost, xp = x.hostFloats, yp = out.hostFloats, w = weight.hostFloats
        parallelChunks(x.shape.outerCount, grain: max(1, 4096 / max(width, 1))) { rows in
            for r in rows {
                let xr = xp + r * width, yr = yp + r * width
                let scale = 1 / (dotProduct(xr, xr, width) / Float(width) + epsilon).squareRoot()
                for j in 0..<width { yr[j] = xr[j] * scale * w[j] }
            }
        }
    }

    public func rope(_ x: Tensor, positions: Tensor, inverseFrequencies: Tensor, style: RopeStyle) throws {
        try checkRope(x, positions: positions, inverseFrequencies: inverseFrequencies, on: id)
        let (tokens, heads, dim) = (x.shape[0], x.shape[1], x.shape[2])
        let theta = inverseFrequencies.hostFloats
        let xp = x.hostFloats, pos = positions.hostBytes.assumingMemoryBound(to: Int32.self)
        let half = inverseFrequencies.elementCount
        parallelChunks(tokens, grain: max(1, 256 / max(heads, 1))) { range in
            var cs = [Float](repeating: 0, count: half), sn = [Float](repeating: 0, count: half)
            for t in range {
                for i in 0..<half {
                    // An fp32 product, as transformers multiplies positions by inv_freq.
                    let angle = Float(pos[t]) * theta[i]
                    cs[i] = cosf(angle); sn[i] = sinf(angle)
                }
                for h in 0..<heads {
                    let v = xp + (t * heads + h) * dim
                    for i in 0..<half {
                        let (a, b) = style == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
                        let x0 = v[a], x1 = v[b]
                        v[a] = x0 * cs[i] - x1 * sn[i]
                        v[b] = x0 * sn[i] + x1 * cs[i]
                    }
                }
            }
        }
    }
}
