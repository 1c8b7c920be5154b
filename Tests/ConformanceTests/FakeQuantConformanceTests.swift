import Foundation
import SlimConformance
import SlimCore
import Testing

// Fake quantization (issue #9) on every subject: the forward against the
// codec's encode-then-decode (bit for bit) and against a float64 reference
// with scales that clip; the straight-through weight gradient element by
// element; LSQ's scale gradient against float64 sums and finite differences.

@Suite struct FakeQuantConformance {
    /// Formats with a training grid, each with a width that is not a multiple of
    /// 64 where the format allows it (int8 groups a whole row of 77).
    static let cases: [(format: String, rows: Int, columns: Int)] = [
        ("int8", 7, 77), ("int4-g32", 5, 96), ("int4-g64", 3, 192), ("int4-g128", 4, 384), ("int4-g32-asym", 6, 160),
        ("int4-g128-asym", 3, 256),
    ]

    struct Case {
        let grid: FakeQuantGrid, rows: Int, columns: Int
        let w: [Float], scales: [Float], zeros: [Float]?
    }

    /// Random weights, the codec's round-to-nearest scales (and zeros), and, when
    /// `clipping`, those scales shrunk by a random 0.5–1 so some weights leave the grid.
    static func make(_ c: (format: String, rows: Int, columns: Int), clipping: Bool, inputs: inout Inputs) throws -> Case {
        let format = try QuantFormat(parsing: c.format)
        let grid = try FakeQuantGrid(format: format, columns: c.columns)
        let w = inputs.floats(c.rows * c.columns, scale: 0.5)
        let encoded = try QuantCodec.encode(w, rows: c.rows, columns: c.columns, format: format)
        let scales = encoded.scales.map { clipping ? $0 * Float.random(in: 0.5..<1, using: &inputs.rng) : $0 }
        return Case(grid: grid, rows: c.rows, columns: c.columns, w: w, scales: scales,
                    zeros: grid.asymmetric ? encoded.zeros.map(Float.init) : nil)
    }

    func tensors(_ c: Case, on b: any Backend) throws -> (w: Tensor, s: Tensor, z: Tensor?) {
        (try b.tensor(c.w, shape: [c.rows, c.columns]), try b.tensor(c.scales, shape: [c.scales.count]),
         try c.zeros.map { try b.tensor($0, shape: [$0.count]) })
    }

    @Test(arguments: Subjects.all, cases.map(\.format))
    func forwardEqualsQuantizeThenDequantize(_ subject: Subject, _ format: String) throws {
        let b = subject.backend
        var inputs = Inputs(subject, format)
        let spec = Self.cases.first { $0.format == format }!
        let c = try Self.make(spec, clipping: false, inputs: &inputs)
        let (w, s, z) = try tensors(c, on: b)
        let out = try poisoned(b, [c.rows, c.columns])
        try b.fakeQuantize(w, scales: s, zeros: z, grid: c.grid, into: out)
        let encoded = try QuantCodec.encode(c.w, rows: c.rows, columns: c.columns, format: c.grid.format)
        let roundTrip = try QuantCodec.decode(encoded, rows: c.rows, columns: c.columns, format: c.grid.format)
        let got = try b.floats(out)
        let differing = zip(got, roundTrip).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        #expect(differing == 0, "\(format): \(differing) of \(got.count) values differ from dequantize(quantize(W)) (seed \(inputs.seed))")
    }

    @Test(arguments: Subjects.all, cases.map(\.format))
    func clippedForwardAndStraightThroughBackward(_ subject: Subject, _ format: String) throws {
        let b = subject.backend
        var inputs = Inputs(subject, format)
        let spec = Self.cases.first { $0.format == format }!
        let c = try Self.make(spec, clipping: true, inputs: &inputs)
        let (w, s, z) = try tensors(c, on: b)
        let dyHost = inputs.floats(c.w.count)
        let out = try poisoned(b, [c.rows, c.columns]), dw = try poisoned(b, [c.rows, c.columns])
        let ds = try poisoned(b, [c.scales.count])
        try b.fakeQuantize(w, scales: s, zeros: z, grid: c.grid, into: out)
        try b.fakeQuantizeBackward(w, scales: s, zeros: z, grid: c.grid, gradOutput: try b.tensor(dyHost, shape: [c.rows, c.columns]),
                                   into: dw, scaleGradient: ds)
        // float64 reference, except the level: round(w / s) with the fp32
        // division the grid defines (as QuantCodec does), since a double
        // division can land on the other side of a rounding tie (a whole step).
        let g = c.grid.groupSize, lo = Double(c.grid.low), hi = Double(c.grid.high)
        var value = [Double](), grad = [Double](), scaleGrad = [Double](repeating: 0, count: c.scales.count)
        var outside = 0
        for (i, x) in c.w.enumerated() {
            let group = i / g, sc = Double(c.scales[group]), zp = Double(c.zeros?[group] ?? 0)
            let v = Double(x) / sc, r = Double((x / c.scales[group]).rounded()), level = min(hi, max(lo, r + zp))
            let inside = lo <= r + zp && r + zp <= hi
            if !inside { outside += 1 }
            value.append(sc * (level - zp))
            grad.append(inside ? Double(dyHost[i]) : 0)
            scaleGrad[group] += Double(dyHost[i]) * (inside ? r - v : level - zp)
        }
        // Shrunk scales must push weights off the grid, or the zero branch goes untested.
        #expect(outside > 0, "\(format): no weight outside the grid")
        // One rounding of w/s and one product: within 1e-6 relative of the float64 value.
        expectClose(try b.floats(out), value, rtol: 1e-6, atol: 1e-9, "\(format) clipped forward seed \(inputs.seed)")
        // The weight gradient is dy or 0 exactly.
        expectClose(try b.floats(dw), grad, rtol: 0, atol: 0, "\(format) straight-through dw seed \(inputs.seed)")
        // A sum of up to 384 terms of |dy·(level − z)| ≤ 15 in fp32.
        expectClose(try b.floats(ds), scaleGrad, rtol: 1e-5, atol: 1e-4, "\(format) LSQ scale gradient seed \(inputs.seed)")
    }

    /// LSQ's scale gradient is the derivative of `ŵ(s) = s·(round(w/s) + z)`
    /// with the rounding passed straight through (its offset `round(v₀) − v₀`
    /// frozen at the current scale) inside the grid, and of `s·(level − z)`
    /// outside: central differences of that function in float64.
    @Test(arguments: Subjects.all)
    func scaleGradientMatchesFiniteDifferences(_ subject: Subject) throws {
        let b = subject.backend
        var inputs = Inputs(subject)
        let c = try Self.make(("int4-g32-asym", 3, 64), clipping: true, inputs: &inputs)
        let (w, s, z) = try tensors(c, on: b)
        let dyHost = inputs.floats(c.w.count)
        let dw = try b.allocate([c.rows, c.columns]), ds = try poisoned(b, [c.scales.count])
        try b.fakeQuantizeBackward(w, scales: s, zeros: z, grid: c.grid, gradOutput: try b.tensor(dyHost, shape: [c.rows, c.columns]),
                                   into: dw, scaleGradient: ds)
        let g = c.grid.groupSize, lo = Double(c.grid.low), hi = Double(c.grid.high)
        func loss(_ scales: [Double]) -> Double {
            c.w.enumerated().reduce(0.0) { sum, e in
                let group = e.offset / g, s0 = Double(c.scales[group]), zp = Double(c.zeros![group])
                let v0 = Double(e.element) / s0, level = min(hi, max(lo, v0.rounded() + zp))
                let inside = lo <= v0.rounded() + zp && v0.rounded() + zp <= hi
                let frozen = v0.rounded() - v0
                let value = inside ? Double(e.element) + scales[group] * frozen : scales[group] * (level - zp)
                return sum + Double(dyHost[e.offset]) * value
            }
        }
        let fd = float64FiniteDifferences(c.scales.map(Double.init), loss)
        expectClose(try b.floats(ds), fd, rtol: 1e-5, atol: 1e-4, "scale gradient vs finite differences seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func badOperandsAreRefused(_ subject: Subject) throws {
        let b = subject.backend
        let grid = try FakeQuantGrid(format: .int4(groupSize: 32, symmetric: false), columns: 64)
        let w = try b.allocate([2, 64]), s = try b.allocate([4]), out = try b.allocate([2, 64])
        #expect(throws: SlimError.self) { try b.fakeQuantize(w, scales: s, zeros: nil, grid: grid, into: out) }
        #expect(throws: SlimError.self) {
            try b.fakeQuantize(w, scales: try b.allocate([3]), zeros: try b.allocate([3]), grid: grid, into: out)
        }
        #expect(throws: SlimError.self) { try FakeQuantGrid(format: .q4_0, columns: 64) }
        #expect(throws: SlimError.self) { try FakeQuantGrid(format: .int4(groupSize: 128, symmetric: true), columns: 96) }
    }
}
