import Foundation
@testable import SlimCompress
import SlimCore
import Testing
import TestSupport

/// GPTQ on a synthetic layer with correlated inputs: its output error on the
/// calibration data must beat round-to-nearest, and what it writes must decode
/// with the ordinary kernels' rules.
@Suite struct GPTQTests {
    struct Problem {
        let n: Int, k: Int, samples: Int
        let w: [Float], x: [Float]
        var hessian: [Double] {
            var h = [Double](repeating: 0, count: k * k)
            for s in 0..<samples {
                for i in 0..<k where x[s * k + i] != 0 {
                    let xi = Double(x[s * k + i])
                    for j in 0..<k { h[i * k + j] += 2 * xi * Double(x[s * k + j]) }
                }
            }
            return h
        }

        init(n: Int, k: Int, samples: Int, w: [Float], x: [Float]) {
            self.n = n; self.k = k; self.samples = samples; self.w = w; self.x = x
        }

        init(n: Int, k: Int, samples: Int, seed: UInt64) {
            var g = SplitMix64(seed: seed)
            self.n = n; self.k = k; self.samples = samples
            w = (0..<n * k).map { _ in g.uniform() }
            // Inputs mixed from a few factors, so columns are strongly correlated (as activations are).
            let factors = 8
            let mix = (0..<factors * k).map { _ in g.uniform() }
            x = (0..<samples).flatMap { _ -> [Float] in
                let z = (0..<factors).map { _ in g.uniform() }
                return (0..<k).map { j in (0..<factors).reduce(Float(0)) { $0 + z[$1] * mix[$1 * k + j] } + 0.05 * g.uniform() }
            }
        }

        /// ‖X·Wᵀ − X·Ŵᵀ‖² over the calibration samples.
        func outputError(_ wq: [Float]) -> Double {
            var e = 0.0
            for s in 0..<samples {
                for r in 0..<n {
                    var d = 0.0
                    for i in 0..<k { d += Double(x[s * k + i]) * Double(w[r * k + i] - wq[r * k + i]) }
                    e += d * d
                }
            }
            return e
        }
    }

    @Test(.seeded, arguments: [QuantFormat.int4(groupSize: 32, symmetric: true), .int4(groupSize: 64, symmetric: false), .int8PerChannel,
                               .q8_0, .q4_0])
    func beatsRoundToNearestOnTheCalibrationOutputs(_ format: QuantFormat) throws {
        let p = Problem(n: 24, k: 128, samples: 300, seed: TestSeed.current)
        let gptq = try GPTQ(format: format).quantize(p.w, rows: p.n, columns: p.k, hessian: p.hessian)
        let rtn = try QuantCodec.encode(p.w, rows: p.n, columns: p.k, format: format)
        let eg = p.outputError(try QuantCodec.decode(gptq, rows: p.n, columns: p.k, format: format))
        let er = p.outputError(try QuantCodec.decode(rtn, rows: p.n, columns: p.k, format: format))
        print("\(format): output error GPTQ \(eg), RTN \(er)")
        #expect(eg < 0.8 * er, "\(format): GPTQ \(eg) should clearly beat RTN \(er)")
    }

    /// K-quants (and the GGUF blocks they fall back to, Q5_0 among them; Q5_1 too): each (super-)block's grid
    /// is fixed from the weights as GPTQ reaches it, so GPTQ still beats llama.cpp's
    /// round to nearest, and the stored blocks decode to exactly the values
    /// GPTQ took its weights to have (in order and with act-order).
    @Test(.seeded, arguments: [QuantFormat.q4_K, .q6_K, .q4_0, .q8_0, .q5_0, .q5_1], [false, true])
    func blockFormatsBeatRoundToNearestAndDecodeAsAssumed(_ format: QuantFormat, _ actOrder: Bool) throws {
        let p = Problem(n: 12, k: 512, samples: 600, seed: TestSeed.current)
        var assumed = [Float](repeating: .nan, count: p.n * p.k)
        let gptq = GPTQ(format: format, actOrder: actOrder)
        let encoded = try gptq.quantize(p.w, rows: p.n, columns: p.k, factor: try gptq.factor(hessian: p.hessian, columns: p.k),
                                        name: "w", assumed: { assumed[$0] = $1 })
        let decoded = try QuantCodec.decode(encoded, rows: p.n, columns: p.k, format: format)
        let differ = zip(decoded, assumed).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differ == 0, "\(format): \(differ) stored weights decode to other values than GPTQ assumed")
        let rtn = try QuantCodec.encode(p.w, rows: p.n, columns: p.k, format: format)
        let eg = p.outputError(decoded)
        let er = p.outputError(try QuantCodec.decode(rtn, rows: p.n, columns: p.k, format: format))
        print("\(format) act-order \(actOrder): output error GPTQ \(eg), RTN \(er)")
        #expect(eg < 0.8 * er, "\(format): GPTQ \(eg) should clearly beat RTN \(er)")
    }

    /// With a diagonal Hessian no error reaches another column, so GPTQ's levels are round-to-nearest's:
    /// Q8_0 and Q4_0 blocks byte for byte the codec's, which shows GPTQ's grid is the file's (fp16 scale first).
    @Test(.seeded, arguments: [QuantFormat.q8_0, .q4_0])
    func aDiagonalHessianGivesTheCodecsBlocks(_ format: QuantFormat) throws {
        var rng = SplitMix64(seed: TestSeed.current)
        let (n, k) = (13, 96)
        let w = (0..<n * k).map { _ in Float.random(in: -2...2, using: &rng) }
        var h = [Double](repeating: 0, count: k * k)
        for i in 0..<k { h[i * k + i] = Double.random(in: 0.5...2, using: &rng) }
        let gptq = try GPTQ(format: format).quantize(w, rows: n, columns: k, hessian: h)
        #expect(gptq.data == (try QuantCodec.encode(w, rows: n, columns: k, format: format)).data)
    }

    @Test func rejectsAMismatchedHessianAndUnsupportedFormats() {
        #expect(throws: SlimError.self) {
            try GPTQ(format: .int8PerChannel).quantize([Float](repeating: 1, count: 64), rows: 2, columns: 32, hessian: [1])
        }
        #expect(throws: SlimError.self) {
            try GPTQ(format: .q4_1).quantize([Float](repeating: 1, count: 64), rows: 2, columns: 32,
                                              hessian: [Double](repeating: 0, count: 32 * 32))
        }
    }
}

@Suite struct AWQTests {
    /// Inputs with a few loud channels (as transformer activations have): scaling those
    /// weights up before rounding must lower the output error below round-to-nearest.
    @Test(.seeded) func protectsTheChannelsWithLargeActivations() throws {
        let p = GPTQTests.Problem(n: 32, k: 128, samples: 200, seed: TestSeed.current)
        let loud = Set([3, 17, 64, 100])
        let x = p.x.enumerated().map { loud.contains($0.offset % p.k) ? $0.element * 20 : $0.element }
        let problem = GPTQTests.Problem(n: p.n, k: p.k, samples: p.samples, w: p.w, x: x)
        let format = QuantFormat.int4(groupSize: 32, symmetric: true)
        let awq = try AWQ(format: format).quantize(problem.w, rows: problem.n, columns: problem.k, hessian: problem.hessian)
        let restored = try QuantCodec.decode(awq.encoded, rows: problem.n, columns: problem.k, format: format)
        let effective = restored.indices.map { restored[$0] * awq.inputScale[$0 % problem.k] }
        let rtn = try QuantCodec.decode(try QuantCodec.encode(problem.w, rows: problem.n, columns: problem.k, format: format),
                                        rows: problem.n, columns: problem.k, format: format)
        let (ea, er) = (problem.outputError(effective), problem.outputError(rtn))
        print("AWQ α \(awq.alpha): output error \(ea), RTN \(er)")
        #expect(awq.alpha > 0 && ea < er, "AWQ \(ea) (α \(awq.alpha)) should beat RTN \(er)")
    }
}

/// Act-order permutes the Hessian in place (it can be hundreds of MB); the result
/// must be H[order[i]][order[j]], whatever the permutation's cycles.
@Test(.seeded) func hessianPermutedInPlaceEqualsTheCopy() {
    var rng = SplitMix64(seed: TestSeed.current)
    for k in [1, 2, 7, 33] {
        let h = (0..<k * k).map { _ in Double.random(in: -1...1, using: &rng) }
        let order = Array(0..<k).shuffled(using: &rng)
        var inPlace = h
        GPTQ.permute(&inPlace, k, order)
        let copy = (0..<k * k).map { h[order[$0 / k] * k + order[$0 % k]] }
        #expect(inPlace == copy, "k \(k), order \(order)")
    }
}

/// GPTQ's factor: U upper triangular with Uᵀ·U = H⁻¹, so Uᵀ·U·H = I (checked in float64),
/// for a random symmetric positive definite H of sizes that are not powers of two.
@Test(.seeded) func factorIsTheUpperCholeskyOfTheInverse() throws {
    var rng = SplitMix64(seed: TestSeed.current)
    for k in [1, 3, 17, 70] {
        let x = (0..<(k + 5) * k).map { _ in Double.random(in: -1...1, using: &rng) }
        var h = [Double](repeating: 0, count: k * k)
        for i in 0..<k { for j in 0..<k { for r in 0..<k + 5 { h[i * k + j] += x[r * k + i] * x[r * k + j] } } }
        for i in 0..<k { h[i * k + i] += 0.1 }
        let u = try GPTQ(format: .int8PerChannel).upperCholeskyOfInverse(h, k)
        var worst = 0.0
        for i in 0..<k {
            for j in 0..<i { #expect(u[i * k + j] == 0, "below the diagonal at \(i), \(j)") }
            for j in 0..<k {
                // (Uᵀ·U·H)[i][j] = Σ_a Σ_b U[a][i]·U[a][b]·H[b][j]
                var s = 0.0
                for a in 0..<k { for b in 0..<k { s += u[a * k + i] * u[a * k + b] * h[b * k + j] } }
                worst = max(worst, abs(s - (i == j ? 1 : 0)))
            }
        }
        #expect(worst < 1e-8, "k \(k): UᵀUH differs from I by \(worst)")
    }
}
