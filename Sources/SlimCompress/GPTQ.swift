import Foundation
import SlimCore

/// GPTQ (Frantar et al., 2022): quantizes a weight column by column, pushing
/// each column's rounding error onto the columns not yet quantized through
/// the inverse Hessian of the layer's inputs, H = 2·XᵀX, so the layer's
/// output on the calibration data changes as little as possible.
///
/// The Cholesky factor of H⁻¹ gives each column's update row; updates are
/// applied lazily in blocks of `blockSize` columns (the paper's trick that
/// turns them into one matrix product per block).
public struct GPTQ: Sendable {
    public var format: QuantFormat
    /// Added to the diagonal as a fraction of its mean, so H is safely positive definite.
    public var damping: Double = 0.01
    public var blockSize: Int = 128

    public init(format: QuantFormat) { self.format = format }

    /// Quantizes `w` (`[rows, columns]`, rows are output channels) given the
    /// Hessian `h` (`[columns, columns]`). Returns the packed weight.
    public func quantize(_ w: [Float], rows n: Int, columns k: Int, hessian h: [Double]) throws -> QuantCodec.Encoded {
        try format.validate(rows: n, columns: k)
        guard h.count == k * k, w.count == n * k else {
            throw SlimError.shapeMismatch(op: "GPTQ", detail: "a \(n)x\(k) weight needs a \(k)x\(k) Hessian, got \(h.count) values")
        }
        let group: Int = switch format {
        case let .int4(g, _): g
        case .int8PerChannel: k
        default: throw SlimError.unsupported(op: "GPTQ \(format)", backend: "host", reason: "GPTQ writes int8 and int4 weights")
        }
        var w = w.map(Double.init)
        var h = h
        // Inputs that never fire carry no information: fix their weights to 0.
        for i in 0..<k where h[i * k + i] == 0 {
            h[i * k + i] = 1
            for r in 0..<n { w[r * k + i] = 0 }
        }
        let meanDiagonal = (0..<k).reduce(0.0) { $0 + h[$1 * k + $1] } / Double(k)
        for i in 0..<k { h[i * k + i] += damping * meanDiagonal }
        let u = try upperCholeskyOfInverse(h, k)

        var levels = [Int](repeating: 0, count: n * k)
        var grids = [QuantGrid](repeating: QuantGrid(scale: 0, zero: 0, lo: 0, hi: 0, offset: 0), count: n * (k / group))
        for b0 in stride(from: 0, to: k, by: blockSize) {
            let b1 = min(k, b0 + blockSize)
            var err = [Double](repeating: 0, count: n * (b1 - b0))
            for i in b0..<b1 {
                let d = u[i * k + i]
                for r in 0..<n {
                    if i % group == 0 {
                        // The group's grid comes from its weights as updated so far.
                        let slice = (i..<i + group).map { Float(w[r * k + $0]) }
                        grids[r * (k / group) + i / group] = QuantGrid.fit(slice[...], format: format)
                    }
                    let grid = grids[r * (k / group) + i / group]
                    let level = grid.level(Float(w[r * k + i]))
                    levels[r * k + i] = level
                    let e = (w[r * k + i] - Double(grid.value(level))) / d
                    err[r * (b1 - b0) + (i - b0)] = e
                    // Within the block, update the remaining columns at once.
                    for j in i + 1..<b1 { w[r * k + j] -= e * u[i * k + j] }
                }
            }
            // The lazy update of every later column by the block's errors.
            if b1 < k {
                for r in 0..<n {
                    for t in b0..<b1 {
                        let e = err[r * (b1 - b0) + (t - b0)]
                        if e == 0 { continue }
                        let urow = t * k
                        for j in b1..<k { w[r * k + j] -= e * u[urow + j] }
                    }
                }
            }
        }
        let scales = grids.map(\.scale)
        let symmetric = if case .int4(_, false) = format { false } else { true }
        return try QuantCodec.encode(levels: levels, rows: n, columns: k, format: format, scales: scales,
                                     zeros: symmetric ? [] : grids.map { UInt8($0.zero) })
    }

    /// U with H⁻¹ = Uᵀ·U: Cholesky H = L·Lᵀ, H⁻¹ = L⁻ᵀ·L⁻¹, then its Cholesky factor.
    func upperCholeskyOfInverse(_ h: [Double], _ k: Int) throws -> [Double] {
        let l = try cholesky(h, k)
        // L⁻¹ by forward substitution, column by column.
        var linv = [Double](repeating: 0, count: k * k)
        for c in 0..<k {
            linv[c * k + c] = 1 / l[c * k + c]
            for r in c + 1..<k {
                var s = 0.0
                for t in c..<r { s += l[r * k + t] * linv[t * k + c] }
                linv[r * k + c] = -s / l[r * k + r]
            }
        }
        // H⁻¹ = L⁻ᵀ·L⁻¹ (symmetric).
        var inv = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in i..<k {
                var s = 0.0
                for t in j..<k { s += linv[t * k + i] * linv[t * k + j] }
                inv[i * k + j] = s
                inv[j * k + i] = s
            }
        }
        let lower = try cholesky(inv, k)
        var upper = [Double](repeating: 0, count: k * k)
        for i in 0..<k { for j in i..<k { upper[i * k + j] = lower[j * k + i] } }
        return upper
    }

    /// Lower Cholesky factor of a symmetric positive-definite matrix.
    func cholesky(_ a: [Double], _ k: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: k * k)
        for j in 0..<k {
            var d = a[j * k + j]
            for t in 0..<j { d -= l[j * k + t] * l[j * k + t] }
            guard d > 0 else {
                throw SlimError.invalidArgument("GPTQ: the Hessian is not positive definite at column \(j); raise the damping")
            }
            let ljj = d.squareRoot()
            l[j * k + j] = ljj
            for i in j + 1..<k {
                var s = a[i * k + j]
                for t in 0..<j { s -= l[i * k + t] * l[j * k + t] }
                l[i * k + j] = s / ljj
            }
        }
        return l
    }
}
