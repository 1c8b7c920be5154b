import SlimConformance
import SlimCore
import Testing

extension QuantCase: CustomTestStringConvertible {
    public var testDescription: String { description }
}

@Suite struct QuantCodecTests {
    /// The codec against the quantization's definition, computed here from the
    /// weights (not from what the codec stored): each group's scale, and every
    /// weight, decoded in float64 from the codec's bytes, within half of the
    /// definition's step of its value; then the codec's own decode against
    /// that float64 decode.
    /// (K-quants' grids come from llama.cpp's search: KQuantTests checks them.)
    @Test(arguments: QuantCase.all.filter { !$0.format.isKQuant })
    func encodeFollowsTheDefinition(_ c: QuantCase) throws {
        var inputs = Inputs(c)
        let (n, k) = (7, c.k)
        let w = inputs.floats(n * k, scale: 2)
        let e = try QuantCodec.encode(w, rows: n, columns: k, format: c.format)
        let ref = ReferenceWeights(e, rows: n, columns: k, format: c.format)
        let size = c.format.blockSize ?? k
        for group in 0..<(n * k / size) {
            let def = definitionStep(Array(w[group * size ..< (group + 1) * size]), c.format)
            // The stored scale (and Q4_1's and Q5_1's minimum): fp32 ones within a few ulp of the
            // float64 definition, fp16 ones within one fp16 ulp (rounded from fp32 or float64).
            let stored: (step: Double, minimum: Double?), tolerance: Double
            if c.format.isFloat16 {
                stored = (def.step, nil)  // no scale: the weights themselves are stored
                tolerance = 0
            } else if let bytes = c.format.ggufBlockBytes {
                let at = group * bytes
                // Q5_0's d carries the sign of the weight of largest magnitude (llama.cpp's max / −16).
                stored = (abs(float16(e.data[at], e.data[at + 1])),
                          c.format == .q4_1 || c.format == .q5_1 ? float16(e.data[at + 2], e.data[at + 3]) : nil)
                tolerance = 0x1p-10
            } else {
                stored = (Double(e.scales[group]), nil)
                tolerance = 1e-6
            }
            #expect(abs(stored.step - def.step) <= tolerance * def.step, "\(c.format) group \(group): scale \(stored.step), by definition \(def.step)")
            if let m = def.minimum {
                #expect(abs(stored.minimum! - m) <= tolerance * abs(m), "\(c.format) group \(group): minimum \(stored.minimum!), by definition \(m)")
            }
            // Half a step, plus float rounding of the division and product (a few ulps of |w|).
            for i in group * size ..< (group + 1) * size {
                let bound = def.step / 2 * (1 + 1e-6) + def.slack + 4 * Double(Float.ulpOfOne) * Double(abs(w[i]))
                if abs(ref.values[i] - Double(w[i])) > bound {
                    Issue.record("\(c.format): element \(i) \(w[i]) is stored as \(ref.values[i]), more than half the step \(def.step) away")
                    return
                }
            }
        }
        let decoded = try QuantCodec.decode(e, rows: n, columns: k, format: c.format)
        expectWithin(decoded, ref.values, bounds: ref.roundingBounds, "\(c.format): the codec's decode")
    }

    /// Hand-made blocks with known bytes decode to known values and re-encode to the same bytes.
    @Test func ggufBlocksRoundTripBitExactly() throws {
        // fp16 0.5 is 0x3800, 0.25 is 0x3400, -1.0 is 0xBC00 (little-endian below).
        var q8: [UInt8] = [0x00, 0x38]
        var expected8: [Float] = []
        for j in 0..<32 {
            let q: Int8 = j == 0 ? 127 : j == 1 ? -127 : Int8(j - 16)
            q8.append(UInt8(bitPattern: q))
            expected8.append(0.5 * Float(q))
        }
        // Low nibbles 1…15 then 1 (levels −7…7), high nibbles 15 (level 7).
        var q40: [UInt8] = [0x00, 0x38]
        var low40: [Float] = []
        for j in 0..<16 {
            let u = j % 15 + 1
            q40.append(UInt8(u) | 0xF0)
            low40.append(0.5 * Float(u - 8))
        }
        let expected40 = low40 + [Float](repeating: 3.5, count: 16)
        var q41: [UInt8] = [0x00, 0x34, 0x00, 0xBC]
        var low41: [Float] = [], high41: [Float] = []
        for j in 0..<16 {
            q41.append(UInt8(j) | UInt8(15 - j) << 4)
            low41.append(0.25 * Float(j) - 1)
            high41.append(0.25 * Float(15 - j) - 1)
        }
        let expected41 = low41 + high41
        for (format, bytes, expected) in [(QuantFormat.q8_0, q8, expected8), (.q4_0, q40, expected40), (.q4_1, q41, expected41)] {
            let values = try QuantCodec.decode(QuantCodec.Encoded(data: bytes), rows: 1, columns: 32, format: format)
            #expect(values == expected, "\(format) decodes its known bytes")
            // The test's own decoder agrees on these hand-made blocks (all values exact).
            #expect(ReferenceWeights(QuantCodec.Encoded(data: bytes), rows: 1, columns: 32, format: format).values == expected.map(Double.init))
            let again = try QuantCodec.encode(values, rows: 1, columns: 32, format: format)
            #expect(again.data == bytes, "\(format) re-encodes bit-exactly")
        }
    }

    @Test func kNotAMultipleOfTheGroupIsRejected() throws {
        #expect(throws: SlimError.shapeMismatch(op: "quantize int4-g32",
                                                detail: "weight has K = 48 columns, not a multiple of the block size 32 the format needs")) {
            try QuantCodec.encode([Float](repeating: 1, count: 2 * 48), rows: 2, columns: 48, format: .int4(groupSize: 32, symmetric: true))
        }
        #expect(throws: SlimError.shapeMismatch(op: "quantize q4_0",
                                                detail: "weight has K = 40 columns, not a multiple of the block size 32 the format needs")) {
            try QuantCodec.encode([Float](repeating: 1, count: 40), rows: 1, columns: 40, format: .q4_0)
        }
        #expect(throws: SlimError.self) { _ = try QuantFormat(parsing: "int4-g48") }
        #expect(try QuantFormat(parsing: "int4-g128-asym") == .int4(groupSize: 128, symmetric: false))
    }
}

@Suite struct QuantizedMatmulConformance {
    /// 1 and 2 take the AVX-512 4-bit kernels (four or two rows per step), 3 and
    /// more the per-row ones in groups of four tokens; 9 leaves a group of one.
    static let tokenCounts = [1, 2, 3, 8, 9, 64]

    @Test(arguments: Subjects.all, QuantCase.all)
    func weightOnlyMatchesFloat64OfDequantized(_ subject: Subject, _ c: QuantCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let (n, k) = (37, c.k)
        let wValues = inputs.floats(n * k)
        let w = try backend.quantize(try backend.tensor(wValues, shape: [n, k], name: "w"), format: c.format)
        let deq = ReferenceWeights(try backend.encoded(w), rows: n, columns: k, format: c.format).values
        let biasValues = inputs.floats(n)
        let bias = try backend.tensor(biasValues, shape: [n])
        for m in Self.tokenCounts {
            let x = inputs.floats(m * k)
            let y = try poisoned(backend, [m, n])
            try subject.expectPaths("\(c.format) M=\(m)", { ExpectedPaths.quantizedMatmul($0, c.format, .f32, m: m, k: k) }) {
                try backend.quantizedMatmul(try backend.tensor(x, shape: [m, k]), w, bias: m % 2 == 1 ? bias : nil, into: y,
                                            activations: .f32)
            }
            var want = [Double](repeating: 0, count: m * n)
            for t in 0..<m {
                for r in 0..<n {
                    var s = m % 2 == 1 ? Double(biasValues[r]) : 0
                    for j in 0..<k { s += Double(x[t * k + j]) * deq[r * k + j] }
                    want[t * n + r] = s
                }
            }
            let got = try backend.floats(y)
            // NMSE ≤ 1e-7 against the float64 product of the dequantized weights (the issue's bound).
            let error = nmse(got, want)
            #expect(got.allSatisfy { $0.isFinite } && error <= 1e-7, "\(c.format) M=\(m): NMSE \(error) (seed \(inputs.seed))")
        }
    }

    /// Int8 weights with fp32 activations that are hard on the VNNI path's
    /// 22-bit fixed point (one scale per token row, see `QuantizedMatmulShape`):
    /// outliers 1000 times the rest, a row of zeros, a row with one nonzero, a
    /// row of values near 1e-30, and constant rows whose digits are all at
    /// their extremes against weight rows of all +127 and all −127 (the largest
    /// int32 plane sums). K = 70,001 crosses the kernel's 65,536-column int32
    /// chunk and ends in a partial 64-byte step; 19 rows leave rows over after
    /// the eight- and four-row blocks.
    @Test(arguments: Subjects.all)
    func int8WeightOnlyWithOutliersMatchesFloat64(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let (n, k) = (19, 70_001)
        var wValues = inputs.floats(n * k)
        for j in 0..<k { (wValues[j], wValues[k + j]) = (0.75, -0.75) }
        let w = try backend.quantize(try backend.tensor(wValues, shape: [n, k], name: "w"), format: .int8PerChannel)
        let deq = ReferenceWeights(try backend.encoded(w), rows: n, columns: k, format: .int8PerChannel).values
        var outliers = inputs.floats(k), mixed = inputs.floats(k, scale: 0.01)
        for j in stride(from: 17, to: k, by: 9_001) { outliers[j] *= 1000 }
        for (j, v) in [(3, 9.0), (40_000, -11.5), (69_999, 10.25)] as [(Int, Float)] { mixed[j] = v }
        var single = [Float](repeating: 0, count: k)
        single[12_345] = -3.7
        let rows: [(String, [Float])] = [
            ("outliers", outliers), ("zeros", [Float](repeating: 0, count: k)), ("one nonzero", single),
            ("constant +2.5", [Float](repeating: 2.5, count: k)), ("constant -2.5", [Float](repeating: -2.5, count: k)),
            ("mixed outliers", mixed), ("tiny", inputs.floats(k, scale: 1e-30)),
        ]
        // Each row alone (the one-token kernel), then all seven (pairs of tokens, one left over).
        for batch in rows.map({ [$0] }) + [rows] {
            let m = batch.count
            let x = batch.flatMap { $0.1 }
            let y = try poisoned(backend, [m, n])
            try subject.expectPaths("outliers M=\(m)", { ExpectedPaths.quantizedMatmul($0, .int8PerChannel, .f32, m: m, k: k) }) {
                try backend.quantizedMatmul(try backend.tensor(x, shape: [m, k]), w, bias: nil, into: y, activations: .f32)
            }
            let got = try backend.floats(y)
            for (t, (name, row)) in batch.enumerated() {
                var want = [Double](repeating: 0, count: n)
                for r in 0..<n {
                    var s = 0.0
                    for j in 0..<k where row[j] != 0 { s += Double(row[j]) * deq[r * k + j] }
                    want[r] = s
                }
                let out = Array(got[t * n ..< (t + 1) * n])
                // The weight-only bound, per token row: the 22-bit rounding is 2.4e-7 of the
                // row's largest value; a zero row must give exact zeros (NMSE against 0 is 0/0).
                let error = nmse(out, want)
                #expect(out.allSatisfy { $0.isFinite } && error <= 1e-7,
                        "\(subject.name) \(name) (M=\(m), token \(t)): NMSE \(error) (seed \(inputs.seed))")
            }
        }
    }

    /// A NaN or an infinity in a token row spoils that row's outputs, as in an
    /// fp32 product (the fixed-point path gives the row a NaN scale), and only that row's.
    @Test(arguments: Subjects.all)
    func int8WeightOnlyKeepsNonFiniteRowsNonFinite(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let (n, k) = (21, 200)
        let w = try backend.quantize(try backend.tensor(inputs.floats(n * k), shape: [n, k]), format: .int8PerChannel)
        var x = inputs.floats(3 * k)
        x[k + 7] = .nan
        x[2 * k + 150] = .infinity
        let y = try poisoned(backend, [3, n])
        try backend.quantizedMatmul(try backend.tensor(x, shape: [3, k]), w, bias: nil, into: y, activations: .f32)
        let got = try backend.floats(y)
        #expect(got[0..<n].allSatisfy { $0.isFinite }, "\(subject.name): the finite row stays finite")
        #expect(got[n...].allSatisfy { !$0.isFinite }, "\(subject.name): rows with a NaN or an infinity give no finite output")
    }

    /// Int8 activations with every weight format (W8A8 for int8 weights), one
    /// scale per row or one per block of 32 (fp16-rounded, as llama.cpp's Q8 blocks).
    @Test(arguments: Subjects.all, QuantCase.all)
    func int8ActivationsMatchFloat64OfQuantizedOperands(_ subject: Subject, _ c: QuantCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let (n, k) = (29, c.k)
        let w = try backend.quantize(try backend.tensor(inputs.floats(n * k), shape: [n, k]), format: c.format)
        let deq = ReferenceWeights(try backend.encoded(w), rows: n, columns: k, format: c.format).values
        guard !c.format.isFloat16 else {
            for precision in [ActivationPrecision.int8PerRow, .int8PerBlock] {
                #expect(throws: SlimError.self, "\(c.format) weights refuse \(precision) activations") {
                    try backend.quantizedMatmul(try backend.tensor(inputs.floats(k), shape: [1, k]), w, bias: nil,
                                                into: try backend.allocate([1, n]), activations: precision)
                }
            }
            return
        }
        for precision in [ActivationPrecision.int8PerRow, .int8PerBlock] {
            let block = precision == .int8PerBlock ? 32 : k
            for m in [1, 2, 3, 9, 64] {
                let x = inputs.floats(m * k, scale: 3)
                let y = try poisoned(backend, [m, n])
                let xt = try backend.tensor(x, shape: [m, k])
                guard k % block == 0 else {
                    #expect(throws: SlimError.self, "K \(k) is not a multiple of 32") {
                        try backend.quantizedMatmul(xt, w, bias: nil, into: y, activations: precision)
                    }
                    break
                }
                try subject.expectPaths("\(c.format) \(precision) M=\(m)", { ExpectedPaths.quantizedMatmul($0, c.format, precision, m: m, k: k) }) {
                    try backend.quantizedMatmul(xt, w, bias: nil, into: y, activations: precision)
                }
                var want = [Double](repeating: 0, count: m * n)
                for t in 0..<m {
                    for b in stride(from: 0, to: k, by: block) {
                        var qx = [Int8](repeating: 0, count: block)
                        var sx = x[t * k + b ..< t * k + b + block].withUnsafeBufferPointer { run in
                            qx.withUnsafeMutableBufferPointer { QuantCodec.quantizeActivationRow(run, into: $0) }
                        }
                        if precision == .int8PerBlock { sx = Float(Float16(sx)) }
                        for r in 0..<n {
                            var dot = 0.0
                            for j in 0..<block { dot += Double(qx[j]) * deq[r * k + b + j] }
                            want[t * n + r] += Double(sx) * dot
                        }
                    }
                }
                // Integer dot products are exact; the per-run (or per-row) scales and
                // the final rescale round in fp32: NMSE ≤ 1e-7 as for weight-only.
                let got = try backend.floats(y)
                let error = nmse(got, want)
                #expect(got.allSatisfy { $0.isFinite } && error <= 1e-7,
                        "\(c.format) \(precision) M=\(m): NMSE \(error) (seed \(inputs.seed))")
            }
        }
    }

    @Test(arguments: Subjects.all)
    func badInputIsRejected(_ subject: Subject) throws {
        let backend = subject.backend
        let w4 = try backend.quantize(try backend.tensor([Float](repeating: 0.5, count: 8 * 64), shape: [8, 64]),
                                      format: .int4(groupSize: 32, symmetric: true))
        let x = try backend.allocate([2, 64]), y = try backend.allocate([2, 8])
        #expect(throws: SlimError.self) { try backend.quantizedMatmul(x, w4, bias: nil, into: try backend.allocate([2, 7]), activations: .int8PerRow) }
        let wrongX = try backend.allocate([2, 63])
        #expect(throws: SlimError.self) { try backend.quantizedMatmul(wrongX, w4, bias: nil, into: y, activations: .f32) }
        #expect(throws: SlimError.self) {
            try backend.quantize(try backend.allocate([8, 48]), format: .int4(groupSize: 32, symmetric: false))
        }
    }

    /// Against the float64 decode of the backend's own bytes (not the codec,
    /// which the CPU backend's dequantize calls), within the rounding of the
    /// documented formula in fp32.
    @Test(arguments: Subjects.all, QuantCase.all)
    func dequantizeMatchesFloat64OfThePackedBytes(_ subject: Subject, _ c: QuantCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let w = try backend.quantize(try backend.tensor(inputs.floats(5 * c.k), shape: [5, c.k]), format: c.format)
        let out = try poisoned(backend, [5, c.k])
        try backend.dequantize(w, into: out)
        let want = ReferenceWeights(try backend.encoded(w), rows: 5, columns: c.k, format: c.format)
        expectWithin(try backend.floats(out), want.values, bounds: want.roundingBounds, "\(c.format) dequantize")
    }
}
