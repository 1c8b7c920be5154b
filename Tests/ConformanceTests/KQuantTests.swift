import Foundation
import SlimConformance
import SlimCore
import Testing

/// Q4_K, Q6_K (and Q5_0, Q5_1, from the same fixture) against llama.cpp: blocks its own reference quantizer made
/// and the `gguf` package's dequantization of them (`Tests/Fixtures/kquants`,
/// made by `scripts/make_kquant_fixture.py`), and blocks built here by hand
/// from the documented layout.
@Suite struct KQuantTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kquants")

    struct Fixture {
        let rows: Int, columns: Int
        let inputs: [Float]
        let blocks: [QuantFormat: [UInt8]]
        let decoded: [QuantFormat: [Float]]
    }

    static func fixture() throws -> Fixture {
        func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: fixtures.appendingPathComponent(name))) }
        func floats(_ name: String) throws -> [Float] {
            let b = try bytes(name)
            return (0..<b.count / 4).map { i in
                Float(bitPattern: UInt32(b[4 * i]) | UInt32(b[4 * i + 1]) << 8 | UInt32(b[4 * i + 2]) << 16 | UInt32(b[4 * i + 3]) << 24)
            }
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("manifest.json"))) as! [String: Any]
        return Fixture(rows: manifest["rows"] as! Int, columns: manifest["columns"] as! Int, inputs: try floats("inputs.f32"),
                       blocks: [.q4_K: try bytes("q4_k.bin"), .q6_K: try bytes("q6_k.bin"),
                                .q5_0: try bytes("q5_0.bin"), .q5_1: try bytes("q5_1.bin")],
                       decoded: [.q4_K: try floats("q4_k.f32"), .q6_K: try floats("q6_k.f32"),
                                 .q5_0: try floats("q5_0.f32"), .q5_1: try floats("q5_1.f32")])
    }

    /// llama.cpp's blocks decode to exactly the values gguf's numpy decoder gives
    /// (same fp32 roundings), by the codec and by the float64 reference decoder.
    @Test(arguments: [QuantFormat.q4_K, .q6_K, .q5_0, .q5_1])
    func llamaCppBlocksDecodeExactlyAsGGUFDoes(_ format: QuantFormat) throws {
        let f = try Self.fixture()
        let e = QuantCodec.Encoded(data: f.blocks[format]!)
        let want = f.decoded[format]!
        let got = try QuantCodec.decode(e, rows: f.rows, columns: f.columns, format: format)
        let mismatches = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(got.count == want.count && mismatches == 0, "\(format): \(mismatches) of \(want.count) weights differ from gguf's decode")
        let reference = ReferenceWeights(e, rows: f.rows, columns: f.columns, format: format)
        // fp32 rounds the one sum (Q4_K, Q5_1) at most; Q6_K's and Q5_0's products are exact.
        expectWithin(want, reference.values, bounds: reference.roundingBounds, "\(format): gguf vs the float64 reference decoder")
    }

    /// The codec's quantizer gives llama.cpp's reference quantizer's bytes, block for block.
    @Test(arguments: [QuantFormat.q4_K, .q6_K, .q5_0, .q5_1])
    func encodeGivesLlamaCppBytes(_ format: QuantFormat) throws {
        let f = try Self.fixture()
        let want = f.blocks[format]!
        let got = try QuantCodec.encode(f.inputs, rows: f.rows, columns: f.columns, format: format).data
        let size = format.ggufBlockBytes!
        let differing = stride(from: 0, to: want.count, by: size).filter { got[$0 ..< $0 + size] != want[$0 ..< $0 + size] }
        #expect(got.count == want.count && differing.isEmpty,
                "\(format): blocks \(differing.map { $0 / size }) of \(want.count / size) differ from llama.cpp's")
    }

    /// Q4_K by hand: d = 0.5, dmin = 0.25, scales and minimums that use the high
    /// bits of the 6-bit packing, level u = p mod 16 at position p.
    @Test func handBuiltQ4KBlock() throws {
        let sc = [1, 2, 3, 4, 17, 33, 50, 63], mn = [0, 5, 10, 15, 20, 40, 60, 63]
        var block: [UInt8] = [0x00, 0x38, 0x00, 0x34]  // fp16 0.5, 0.25
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            packed[j] = UInt8(sc[j] | (sc[j + 4] >> 4) << 6)
            packed[j + 4] = UInt8(mn[j] | (mn[j + 4] >> 4) << 6)
            packed[j + 8] = UInt8(sc[j + 4] & 0xF | (mn[j + 4] & 0xF) << 4)
        }
        block += packed
        for chunk in 0..<4 {
            for l in 0..<32 { block.append(UInt8((64 * chunk + l) % 16 | ((64 * chunk + 32 + l) % 16) << 4)) }
        }
        let expected: [Float] = (0..<256).map { (p: Int) -> Float in
            let step: Float = 0.5 * Float(sc[p / 32]), offset: Float = 0.25 * Float(mn[p / 32])
            return step * Float(p % 16) - offset
        }
        try expectHandBlock(block, .q4_K, expected, levels: (0..<256).map { $0 % 16 })
    }

    /// Q6_K by hand: d = 0.5, sub-block scales −8…7, level q − 32 with q = p mod 64.
    @Test func handBuiltQ6KBlock() throws {
        var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
        for p in 0..<256 {
            let q = p % 64, h = p / 128, i = p % 128 / 32, l = p % 32
            ql[64 * h + 32 * (i & 1) + l] |= UInt8(q & 0xF) << (4 * (i >> 1))
            qh[32 * h + l] |= UInt8(q >> 4) << (2 * i)
        }
        let scales: [UInt8] = (0..<16).map { UInt8(bitPattern: Int8($0 - 8)) }
        let block: [UInt8] = ql + qh + scales + [0x00, 0x38]
        let expected: [Float] = (0..<256).map { (p: Int) -> Float in
            let scale = Float(p / 16 - 8), level = Float(p % 64 - 32)
            return 0.5 * scale * level
        }
        try expectHandBlock(block, .q6_K, expected, levels: (0..<256).map { $0 % 64 - 32 })
    }

    private func expectHandBlock(_ block: [UInt8], _ format: QuantFormat, _ expected: [Float], levels: [Int]) throws {
        #expect(block.count == format.ggufBlockBytes!)
        let e = QuantCodec.Encoded(data: block)
        #expect(try QuantCodec.decode(e, rows: 1, columns: 256, format: format) == expected, "\(format): codec decode")
        #expect(ReferenceWeights(e, rows: 1, columns: 256, format: format).values == expected.map(Double.init), "\(format): reference decode")
        let (grid, stored) = KQuantBlock.unpack(block[...], format: format)
        #expect(stored == levels, "\(format): unpacked levels")
        #expect(KQuantBlock.pack(grid, stored[...]) == block, "\(format): packs back to the same bytes")
    }

    /// Random rows: every weight sits on its sub-block's nearest stored level
    /// (llama.cpp's final pass), and the error is what 4 and 6 bits give.
    @Test(arguments: [QuantFormat.q4_K, .q6_K])
    func randomRowsLandOnTheirNearestLevel(_ format: QuantFormat) throws {
        var inputs = Inputs(QuantCase(format: format, k: 768))
        let (n, k) = (5, 768)
        let w = inputs.floats(n * k, scale: 2)
        let e = try QuantCodec.encode(w, rows: n, columns: k, format: format)
        let size = format.ggufBlockBytes!
        var squaredError = 0.0, squared = 0.0
        for b in 0..<(n * k / 256) {
            let (grid, levels) = KQuantBlock.unpack(e.data[b * size ..< (b + 1) * size], format: format)
            for p in 0..<256 {
                let x = w[b * 256 + p]
                if let nearest = grid.level(x, subBlock: p / grid.subBlock), nearest != levels[p] {
                    Issue.record("\(format) block \(b) weight \(p) = \(x): level \(levels[p]), nearest \(nearest) (seed \(inputs.seed))")
                    return
                }
                squaredError += pow(Double(grid.value(levels[p], subBlock: p / grid.subBlock)) - Double(x), 2)
                squared += Double(x) * Double(x)
            }
        }
        // Uniform weights over ±2 (σ² = 4/3): 16 levels leave a relative MSE near 1/(3·15²)·4 ≈ 0.006
        // at worst, 64 levels 16 times less; generous factors for the scale search's choices.
        let bound = format == .q4_K ? 0.01 : 0.001
        #expect(squaredError / squared < bound, "\(format): relative MSE \(squaredError / squared) (seed \(inputs.seed))")
    }

    @Test func kNotAMultipleOf256IsRejectedByName() throws {
        for format in [QuantFormat.q4_K, .q6_K] {
            #expect(throws: SlimError.shapeMismatch(op: "quantize \(format)",
                                                    detail: "'blk.0.ffn_down.weight' has K = 288 columns, not a multiple of the block size 256 the format needs")) {
                try QuantCodec.encode([Float](repeating: 1, count: 2 * 288), rows: 2, columns: 288, format: format, name: "blk.0.ffn_down.weight")
            }
        }
        #expect(try QuantFormat(parsing: "q4_k") == .q4_K)
        #expect(try QuantFormat(parsing: "Q6_K") == .q6_K)
    }
}
