import CBLAS
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
    /// Act-order (GPTQ's `desc_act`): columns are quantized in order of
    /// decreasing Hessian diagonal, the inputs that carry the most energy
    /// first, while the most columns remain to absorb their error. Groups keep
    /// their place in the row (every kernel reads them so): each group's grid is
    /// fitted from the weights before any update ("static groups"), so the
    /// stored file needs no permutation and runs like any other.
    public var actOrder = false

    public init(format: QuantFormat, actOrder: Bool = false, damping: Double = 0.01) {
        self.format = format
        self.actOrder = actOrder
        self.damping = damping
    }

    /// What GPTQ needs of a Hessian, computed once for every layer sharing the
    /// input (Q, K and V; gate and up): the upper Cholesky factor of the
    /// damped H⁻¹, and the inputs that never fire.
    public struct Factor: Sendable {
        public let columns: Int
        /// Of the Hessian permuted into `order`.
        let upper: [Double]
        let deadInputs: [Int]
        /// The order columns are quantized in (act-order), or nil for left to right.
        let order: [Int]?
    }

    /// `name` (a weight that reads these inputs) is for errors. The Hessian is
    /// consumed: every step works in its buffer (a wide layer's is hundreds of MB).
    public func factor(hessian: consuming [Double], columns k: Int, name: String = "") throws -> Factor {
        var h = consume hessian
        guard h.count == k * k else {
            throw SlimError.shapeMismatch(op: "GPTQ", detail: "\(k) columns need a \(k)x\(k) Hessian, got \(h.count) values")
        }
        try Self.requireFinite(hessian: h, name: name, method: "GPTQ")
        // Inputs that never fire carry no information: their weights are fixed to 0.
        let dead = (0..<k).filter { h[$0 * k + $0] == 0 }
        for i in dead { h[i * k + i] = 1 }
        let meanDiagonal = (0..<k).reduce(0.0) { $0 + h[$1 * k + $1] } / Double(k)
        for i in 0..<k { h[i * k + i] += damping * meanDiagonal }
        guard actOrder else { return Factor(columns: k, upper: try upperCholeskyOfInverse(h, k), deadInputs: dead, order: nil) }
        // Stable, so equal diagonals keep their left-to-right order and the result is reproducible.
        let order = (0..<k).sorted { (h[$0 * k + $0], $1) > (h[$1 * k + $1], $0) }
        Self.permute(&h, k, order)
        return Factor(columns: k, upper: try upperCholeskyOfInverse(h, k), deadInputs: dead, order: order)
    }

    /// H[i][j] ← H[order[i]][order[j]] in place: rows along the permutation's cycles, then each row's columns.
    static func permute(_ h: inout [Double], _ k: Int, _ order: [Int]) {
        var row = [Double](repeating: 0, count: k)
        var placed = [Bool](repeating: false, count: k)
        h.withUnsafeMutableBufferPointer { m in
            for start in 0..<k where !placed[start] {
                // Row i takes row order[i]: walk the cycle start → order[start] → …
                for j in 0..<k { row[j] = m[start * k + j] }
                var i = start
                while true {
                    placed[i] = true
                    let next = order[i]
                    if next == start { for j in 0..<k { m[i * k + j] = row[j] }; break }
                    for j in 0..<k { m[i * k + j] = m[next * k + j] }
                    i = next
                }
            }
            for r in 0..<k {
                for j in 0..<k { row[j] = m[r * k + order[j]] }
                for j in 0..<k { m[r * k + j] = row[j] }
            }
        }
    }

    /// Quantizes `w` (`[rows, columns]`, rows are output channels) given the
    /// Hessian `h` (`[columns, columns]`). Returns the packed weight.
    public func quantize(_ w: [Float], rows n: Int, columns k: Int, hessian h: [Double], name: String = "") throws -> QuantCodec.Encoded {
        // The weight first: a NaN weight is the likelier cause of a NaN Hessian downstream.
        try FiniteCheck.requireQuantizable(w, tensor: name, format: format)
        return try quantize(w, rows: n, columns: k, factor: try factor(hessian: h, columns: k, name: name), name: name)
    }

    /// Refuses a Hessian holding NaN or ±∞: the calibration inputs of `name`
    /// were not finite (a model loaded with --allow-nonfinite, or overflow).
    static func requireFinite(hessian h: [Double], name: String, method: String) throws {
        guard let i = h.firstIndex(where: { !$0.isFinite }) else { return }
        throw SlimError.nonFinite(tensor: name.isEmpty ? "unnamed tensor" : name, origin: method,
                                  detail: "calibration inputs whose Hessian has \(h[i]) at element \(i); \(method) needs finite activations")
    }

    public func quantize(_ w: [Float], rows n: Int, columns k: Int, factor: Factor, name: String = "") throws -> QuantCodec.Encoded {
        try quantize(w, rows: n, columns: k, factor: factor, name: name, assumed: nil)
    }

    /// `assumed(i, v)` is told the value GPTQ took weight `i` (row-major) to have
    /// when it pushed that weight's error onward (tests check the file decodes to it).
    func quantize(_ w: [Float], rows n: Int, columns k: Int, factor: Factor, name: String,
                  assumed: ((Int, Float) -> Void)?) throws -> QuantCodec.Encoded {
        try format.validate(rows: n, columns: k, name: name.isEmpty ? "weight" : "'\(name)'")
        guard factor.columns == k, w.count == n * k else {
            throw SlimError.shapeMismatch(op: "GPTQ", detail: "a \(n)x\(k) weight with a factor of \(factor.columns) columns")
        }
        let group: Int = switch format {
        case let .int4(g, _): g
        case .int8PerChannel: k
        case .q8_0, .q4_0, .q5_0, .q5_1: 32
        case .q4_K, .q6_K: KQuantBlock.weights
        default: throw SlimError.unsupported(op: "GPTQ \(format)", backend: "host", reason: "GPTQ writes int8, int4, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K and Q6_K weights")
        }
        func fit(_ values: some Collection<Float>, row r: Int, column: Int) throws -> GroupGrid {
            do { return try GroupGrid.fit(values, format: format) } catch {
                throw SlimError.invalidArgument("GPTQ \(format): '\(name)' row \(r) from column \(column): \(error)")
            }
        }
        try FiniteCheck.requireQuantizable(w, tensor: name, format: format)
        var w = w.map(Double.init)
        for i in factor.deadInputs { for r in 0..<n { w[r * k + i] = 0 } }
        let u = factor.upper
        let groups = k / group
        var grids = [GroupGrid](repeating: .uniform(QuantGrid(scale: 0, zero: 0, lo: 0, hi: 0, offset: 0)), count: n * groups)
        // Column i of the working matrix is column order[i] of the weight.
        let order = factor.order ?? Array(0..<k)
        if factor.order != nil {
            // Static groups: every grid from the weights as they are, before the first update.
            for r in 0..<n {
                for g in 0..<groups {
                    grids[r * groups + g] = try fit(w[r * k + g * group..<r * k + (g + 1) * group].lazy.map { Float($0) }, row: r, column: g * group)
                }
            }
            var permuted = [Double](repeating: 0, count: n * k)
            for r in 0..<n { for (i, o) in order.enumerated() { permuted[r * k + i] = w[r * k + o] } }
            w = permuted
        }

        var levels = [Int16](repeating: 0, count: n * k)
        for b0 in stride(from: 0, to: k, by: blockSize) {
            let b1 = min(k, b0 + blockSize)
            var err = [Double](repeating: 0, count: n * (b1 - b0))
            for i in b0..<b1 {
                let d = u[i * k + i], column = order[i], g = column / group
                for r in 0..<n {
                    if factor.order == nil, i % group == 0 {
                        // The group's grid comes from its weights as updated so far.
                        grids[r * groups + g] = try fit(w[r * k + i..<r * k + i + group].lazy.map { Float($0) }, row: r, column: i)
                    }
                    let grid = grids[r * groups + g], within = column % group
                    guard let level = grid.level(Float(w[r * k + i]), at: within) else {
                        throw SlimError.nonFinite(tensor: name.isEmpty ? "unnamed tensor" : name, origin: "GPTQ \(format)",
                                                  detail: "a non-finite value at row \(r), column \(column) after the error updates; raise the damping")
                    }
                    levels[r * k + column] = Int16(level)
                    let value = grid.value(level, at: within)
                    assumed?(r * k + column, value)
                    let e = (w[r * k + i] - Double(value)) / d
                    err[r * (b1 - b0) + (i - b0)] = e
                    // Within the block, update the remaining columns at once.
                    w.withUnsafeMutableBufferPointer { wp in
                        u.withUnsafeBufferPointer { up in
                            for j in i + 1..<b1 { wp[r * k + j] -= e * up[i * k + j] }
                        }
                    }
                }
            }
            // The lazy update of every later column by the block's errors: W[:, b1...] −= E·U[b0..<b1, b1...].
            if b1 < k {
                w.withUnsafeMutableBufferPointer { wp in
                    u.withUnsafeBufferPointer { up in
                        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(k - b1), Int32(b1 - b0), -1,
                                    err, Int32(b1 - b0), up.baseAddress! + b0 * k + b1, Int32(k), 1, wp.baseAddress! + b1, Int32(k))
                    }
                }
            }
        }
        if format.isKQuant {
            // Each super-block's bytes from the grid GPTQ rounded onto and its levels.
            var data = [UInt8]()
            data.reserveCapacity(n * format.ggufRowBytes(columns: k)!)
            for (index, grid) in grids.enumerated() {
                guard case let .kQuant(g) = grid else { preconditionFailure("a k-quant weight has k-quant grids") }
                data += KQuantBlock.pack(g, levels[index * group ..< (index + 1) * group])
            }
            return QuantCodec.Encoded(data: data)
        }
        let uniform = grids.map { grid -> QuantGrid in
            guard case let .uniform(g) = grid else { preconditionFailure("an int8/int4 weight has uniform grids") }
            return g
        }
        if format.isQ5 {
            // Each block's bytes from its fp16 factors and the levels GPTQ chose on them.
            var data = [UInt8]()
            data.reserveCapacity(n * format.ggufRowBytes(columns: k)!)
            for (index, g) in uniform.enumerated() {
                data += Q5Block.pack(d: g.scale, m: g.minimum, levels: levels[index * group ..< (index + 1) * group], format: format)
            }
            return QuantCodec.Encoded(data: data)
        }
        let symmetric = if case .int4(_, false) = format { false } else { true }
        return try QuantCodec.encode(levels: levels, rows: n, columns: k, format: format, scales: uniform.map(\.scale),
                                     zeros: symmetric ? [] : uniform.map { UInt8($0.zero) })
    }

    /// U with H⁻¹ = Uᵀ·U, upper triangular, from one Cholesky factorisation:
    /// with J the reversal (J·H·J reverses a row-major symmetric H's array),
    /// J·H·J = L·Lᵀ gives H⁻¹ = (J·L⁻¹·J)ᵀ·(J·L⁻¹·J), and J·L⁻¹·J is upper
    /// triangular. One dpotrf and one dtrtri: ⅔k³ flops where Cholesky, inverse
    /// and a second Cholesky take 4⁄3k³ (four seconds per block at k = 5632 on two cores).
    func upperCholeskyOfInverse(_ h: consuming [Double], _ k: Int) throws -> [Double] {
        var a = consume h
        var n = Int32(k), info: Int32 = 0
        func check(_ step: String) throws {
            guard info == 0 else {
                throw SlimError.invalidArgument("GPTQ: the Hessian is not positive definite (\(step), column \(info)); raise the damping")
            }
        }
        a.reverse()
        // Symmetric, so the row-major array is the same matrix column-major: L in the lower triangle.
        dpotrf_("L", &n, &a, &n, &info)
        try check("Cholesky of H")
        dtrtri_("L", "N", &n, &a, &n, &info)
        try check("inverse of its factor")
        // Column-major L⁻¹(r, c) sits at r + c·k; U[i][j] = L⁻¹(k−1−i, k−1−j): reversing the array puts it at
        // i + j·k, a transpose in place moves it to the row-major i·k + j; below the diagonal is zero.
        a.reverse()
        for i in 0..<k {
            for j in i + 1..<k { a.swapAt(i * k + j, i + j * k) }
            for j in 0..<i { a[i * k + j] = 0 }
        }
        return a
    }
}
