/// llama.cpp's 5-bit blocks of 32 weights (Q5_0, Q5_1), byte for byte as
/// `ggml-common.h` lays them out (`block_q5_0`: fp16 `d`, `qh[4]`, `qs[16]`;
/// `block_q5_1`: fp16 `d`, fp16 `m`, `qh[4]`, `qs[16]`) and `ggml-quants.c`
/// fills them (`quantize_row_q5_0_ref`, `quantize_row_q5_1_ref`), written again
/// from that definition. Weight `j`'s level is `q = u | h << 4`: `u` its nibble
/// (Q4_0's layout: byte `j` low for `j < 16`, byte `j − 16` high otherwise) and
/// `h` bit `j` of `qh` read as a little-endian uint32.
///
/// The reference quantizers' fp32 arithmetic is followed operation by operation
/// (the inverse of the unrounded `d`, llama.cpp's `+ 16.5` / `+ 0.5` then a
/// truncating conversion), so the bytes equal llama.cpp's (`Tests/Fixtures/kquants`).
/// GPTQ instead rounds onto the fp16-rounded factors (`QuantGrid` in
/// SlimCompress) and packs its levels with ``pack(d:m:levels:format:)``.
public enum Q5Block {
    public static let weights = 32

    /// llama.cpp's reference quantizer for one block; nil when `d` (or Q5_1's minimum) overflows fp16.
    public static func encode(_ x: ArraySlice<Float>, format: QuantFormat) -> [UInt8]? {
        precondition(x.count == weights && format.isQ5, "a Q5 block is 32 weights")
        var levels = [Int](repeating: 0, count: weights)
        let d: Float, m: Float
        if format == .q5_0 {
            // The weight of largest magnitude (the first one, on ties) maps to level 0: d = max / −16.
            var amax: Float = 0, peak: Float = 0
            for v in x where amax < abs(v) { (amax, peak) = (abs(v), v) }
            d = peak / -16
            let id: Float = d != 0 ? 1 / d : 0
            // C's (int8_t) conversion truncates; x·id + 16.5 is never below 0 here.
            for (j, v) in x.enumerated() { levels[j] = min(31, Int((v * id + 16.5).rounded(.towardZero))) }
            m = 0
        } else {
            var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
            for v in x {
                if v < lo { lo = v }
                if v > hi { hi = v }
            }
            d = (hi - lo) / 31
            let id: Float = d != 0 ? 1 / d : 0
            // (uint8_t)(x + 0.5f), no clamp: (hi − lo)·id stays below 31.5.
            for (j, v) in x.enumerated() { levels[j] = Int(((v - lo) * id + 0.5).rounded(.towardZero)) }
            m = lo
        }
        guard Float(Float16(d)).isFinite, Float(Float16(m)).isFinite else { return nil }
        return pack(d: d, m: m, levels: levels[...], format: format)
    }

    /// The bytes of a block from its factors (rounded to fp16 here) and 32 levels in 0...31.
    public static func pack<Level: BinaryInteger>(d: Float, m: Float, levels: ArraySlice<Level>, format: QuantFormat) -> [UInt8] {
        precondition(levels.count == weights && format.isQ5, "a Q5 block is 32 levels")
        let q = levels.map { Int(min(31, max(0, $0))) }
        var qh: UInt32 = 0
        for (j, level) in q.enumerated() { qh |= UInt32(level >> 4) << UInt32(j) }
        let qhBytes = (0..<4).map { UInt8(truncatingIfNeeded: qh >> (8 * UInt32($0))) }
        let factors = format == .q5_0 ? QuantCodec.halfBytes(d) : QuantCodec.halfBytes(d) + QuantCodec.halfBytes(m)
        return factors + qhBytes + QuantCodec.packNibbles(q.map { $0 & 0xF })
    }

    /// A block's fp16 factors (as fp32; `m` is 0 for Q5_0) and its 32 levels in 0...31.
    public static func unpack(_ b: ArraySlice<UInt8>, format: QuantFormat) -> (d: Float, m: Float, levels: [Int]) {
        let b = Array(b)
        let d = QuantCodec.half(b[0], b[1])
        let m = format == .q5_1 ? QuantCodec.half(b[2], b[3]) : 0
        let at = format == .q5_1 ? 4 : 2
        let qh = (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
        let low = QuantCodec.unpackNibbles(Array(b[at + 4 ..< at + 20]))
        return (d, m, low.enumerated().map { j, u in u | Int(qh >> UInt32(j) & 1) << 4 })
    }

    /// The 32 weights of a block, rounded as llama.cpp's `dequantize_row_q5_0`/`_q5_1`
    /// and the `gguf` package: `d · (q − 16)` and `d · q + m` (one rounding each, no fused multiply-add).
    public static func decode(_ b: ArraySlice<UInt8>, format: QuantFormat) -> [Float] {
        let (d, m, levels) = unpack(b, format: format)
        return format == .q5_0 ? levels.map { d * Float($0 - 16) } : levels.map { d * Float($0) + m }
    }
}
