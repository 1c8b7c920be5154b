import SlimCore

extension CPUBackend {
    /// One value per row over the last dimension: its sum, mean, maximum or sum of
    /// squares. The maximum skips NaN elements (IEEE maxNum, OpenCL's `fmax`).
    public func reduceRows(_ x: Tensor, _ reduction: Reduction, into out: Tensor) throws {
        try checkReduceRows(x, out: out, on: id)
        let width = x.shape.innermost, xp = x.hostFloats, op = out.hostFloats
        parallelChunks(x.shape.outerCount, grain: max(1, 8192 / width)) { rows in
            for r in rows {
                let xr = xp + r * width
                var acc: Float
                switch reduction {
                case .sum, .mean:
                    acc = 0
                    for j in 0..<width { acc += xr[j] }
                    if reduction == .mean { acc /= Float(width) }
                case .max:
                    acc = -.infinity
                    for j in 0..<width { acc = .maximum(acc, xr[j]) }
                case .sumOfSquares:
                    acc = 0
                    for j in 0..<width { acc += xr[j] * xr[j] }
                }
                op[r] = acc
            }
        }
    }
}
