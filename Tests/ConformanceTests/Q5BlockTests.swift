import SlimConformance
import SlimCore
import Testing

/// Q5_0 and Q5_1 blocks built here by hand from ggml-common.h's layout (the
/// llama.cpp fixture checks are in KQuantTests, which reads the same fixture).
@Suite struct Q5BlockTests {
    /// Level q = p at position p (0...31): every nibble and every qh bit takes both
    /// values; d = 0.5 (fp16 0x3800), Q5_1's m = −1 (0xBC00).
    @Test(arguments: [QuantFormat.q5_0, .q5_1])
    func handBuiltBlock(_ format: QuantFormat) throws {
        let levels = Array(0..<32)
        var block: [UInt8] = format == .q5_0 ? [0x00, 0x38] : [0x00, 0x38, 0x00, 0xBC]
        // qh: bit p is level p's bit 4, so weights 16...31 set theirs: 0xFFFF0000 little-endian.
        block += [0x00, 0x00, 0xFF, 0xFF]
        for j in 0..<16 { block.append(UInt8(levels[j] & 0xF) | UInt8(levels[j + 16] & 0xF) << 4) }
        let expected: [Float] = format == .q5_0 ? levels.map { 0.5 * Float($0 - 16) } : levels.map { 0.5 * Float($0) - 1 }
        let e = QuantCodec.Encoded(data: block)
        #expect(try QuantCodec.decode(e, rows: 1, columns: 32, format: format) == expected, "\(format): codec decode")
        #expect(ReferenceWeights(e, rows: 1, columns: 32, format: format).values == expected.map(Double.init), "\(format): reference decode")
        let (d, m, stored) = Q5Block.unpack(block[...], format: format)
        #expect(stored == levels && d == 0.5 && m == (format == .q5_0 ? 0 : -1), "\(format): unpacked")
        #expect(Q5Block.pack(d: d, m: m, levels: stored[...], format: format) == block, "\(format): packs back to the same bytes")
        if format == .q5_1 {
            // Q5_1's values span −1...14.5 exactly on its grid: llama.cpp's quantizer gives the same bytes back.
            #expect(try QuantCodec.encode(expected, rows: 1, columns: 32, format: format).data == block, "q5_1 re-encodes bit-exactly")
        }
    }

    /// Q5_0's d is max / −16 with max the weight of largest magnitude, sign kept:
    /// a positive peak gives a negative d and level 0, a weight at −peak clamps to 31.
    @Test func q5_0TakesTheSignOfItsPeak() throws {
        var x = [Float](repeating: 0, count: 32)
        x[3] = 8
        x[4] = -8
        let block = try QuantCodec.encode(x, rows: 1, columns: 32, format: .q5_0).data
        let (d, _, levels) = Q5Block.unpack(block[...], format: .q5_0)
        #expect(d == -0.5 && levels[3] == 0 && levels[4] == 31 && levels[0] == 16)
        #expect(try QuantCodec.decode(QuantCodec.Encoded(data: block), rows: 1, columns: 32, format: .q5_0)[4] == -7.5)
    }

    @Test func parsingAndSizes() throws {
        #expect(try QuantFormat(parsing: "q5_0") == .q5_0)
        #expect(try QuantFormat(parsing: "Q5_1") == .q5_1)
        #expect(QuantFormat.q5_0.ggufRowBytes(columns: 576) == 18 * 22 && QuantFormat.q5_1.ggufRowBytes(columns: 576) == 18 * 24)
        #expect(throws: SlimError.shapeMismatch(op: "quantize q5_0",
                                                detail: "weight has K = 40 columns, not a multiple of the block size 32 the format needs")) {
            try QuantCodec.encode([Float](repeating: 1, count: 40), rows: 1, columns: 40, format: .q5_0)
        }
    }
}
