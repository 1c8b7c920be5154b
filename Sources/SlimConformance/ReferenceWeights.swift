import Foundation
import SlimCore

/// Packed weights decoded in float64 straight from the layout ``QuantFormat``
/// documents, byte by byte and without ``QuantCodec``: the reference for every
/// decoder under test (the codec's, each backend's dequantize, the weights of
/// the quantized products), so that none of them is checked against itself.
public struct ReferenceWeights: Sendable {
    /// Each weight, exact: an fp32 scale or fp16 `d` times a level of at most
    /// 8 bits (plus Q4_1's and Q5_1's fp16 minimum) needs far fewer than 53 bits.
    public let values: [Double]
    /// What evaluating the documented formula in fp32 may round away, per
    /// element: half an ulp of the product and half an ulp of the result
    /// (Q4_1's `d·u + m` rounds twice without a fused multiply-add; the other
    /// formats' single product is covered twice over).
    public let roundingBounds: [Double]

    public init(_ e: QuantCodec.Encoded, rows: Int, columns k: Int, format: QuantFormat) {
        var values = [Double](), bounds = [Double]()
        values.reserveCapacity(rows * k)
        for r in 0..<rows {
            for j in 0..<k {
                let (product, offset) = Self.decode(e, row: r, column: j, columns: k, format: format)
                values.append(product + offset)
                bounds.append(0x1p-24 * (abs(product) + abs(product + offset)))
            }
        }
        (self.values, roundingBounds) = (values, bounds)
    }

    /// Weight (r, j) as `scale · level` and an offset (Q4_1's and Q5_1's minimum, else 0).
    private static func decode(_ e: QuantCodec.Encoded, row r: Int, column j: Int, columns k: Int, format: QuantFormat)
        -> (Double, Double) {
        // Within a run of 32 weights, byte p holds weight p (low nibble) and weight p + 16 (high).
        func nibble(_ runStart: Int, _ position: Int) -> Int {
            let byte = e.data[runStart + position % 16]
            return Int(position < 16 ? byte & 0x0F : byte >> 4)
        }
        switch format {
        case .int8PerChannel:
            return (Double(e.scales[r]) * Double(Int8(bitPattern: e.data[r * k + j])), 0)
        case let .int4(g, symmetric):
            let group = r * (k / g) + j / g
            let u = nibble((r * k + j / 32 * 32) / 2, j % 32)
            let zero = symmetric ? 8 : Int(e.zeros[group])
            return (Double(e.scales[group]) * Double(u - zero), 0)
        case .q8_0, .q4_0, .q4_1:
            let block = (r * (k / 32) + j / 32) * format.ggufBlockBytes!, p = j % 32
            let d = float16(e.data[block], e.data[block + 1])
            switch format {
            case .q8_0: return (d * Double(Int8(bitPattern: e.data[block + 2 + p])), 0)
            case .q4_0: return (d * Double(nibble(block + 2, p) - 8), 0)
            default: return (d * Double(nibble(block + 4, p)), float16(e.data[block + 2], e.data[block + 3]))
            }
        case .q5_0, .q5_1:
            // Q4_0's nibbles after d (Q5_1: and its minimum m) and 4 bytes qh; bit p of qh,
            // a little-endian uint32, is weight p's fifth bit.
            let block = (r * (k / 32) + j / 32) * format.ggufBlockBytes!, p = j % 32
            let qh = block + (format == .q5_0 ? 2 : 4)
            let q = nibble(qh + 4, p) | (Int(e.data[qh + p / 8]) >> (p % 8) & 1) << 4
            let d = float16(e.data[block], e.data[block + 1])
            return format == .q5_0 ? (d * Double(q - 16), 0) : (d * Double(q), float16(e.data[block + 2], e.data[block + 3]))
        case .q4_K:
            // 144-byte super-blocks: d, dmin, 12 bytes of 6-bit scales and minimums, 4 chunks of
            // 32 bytes (weight 64c + l low, 64c + 32 + l high); sub-block s = p / 32.
            let block = (r * (k / 256) + j / 256) * 144, p = j % 256, s = p / 32
            let packed = { (i: Int) in Int(e.data[block + 4 + i]) }
            let (sc, m) = s < 4 ? (packed(s) & 63, packed(s + 4) & 63)
                : (packed(s + 4) & 0xF | (packed(s - 4) >> 6) << 4, packed(s + 4) >> 4 | (packed(s) >> 6) << 4)
            let byte = Int(e.data[block + 16 + 32 * (p / 64) + p % 32])
            let u = p % 64 < 32 ? byte & 0xF : byte >> 4
            let d = float16(e.data[block], e.data[block + 1]), dmin = float16(e.data[block + 2], e.data[block + 3])
            return (d * Double(sc) * Double(u), -dmin * Double(m))
        case .q6_K:
            // 210-byte super-blocks: 128 bytes of low nibbles, 64 of 2-bit pairs, 16 int8 scales, d.
            // Half h = p / 128 of the block, quarter i of that half, lane l.
            let block = (r * (k / 256) + j / 256) * 210, p = j % 256
            let (h, i, l) = (p / 128, p % 128 / 32, p % 32)
            let low = Int(e.data[block + 64 * h + 32 * (i & 1) + l]) >> (4 * (i >> 1)) & 0xF
            let high = Int(e.data[block + 128 + 32 * h + l]) >> (2 * i) & 3
            let sc = Int(Int8(bitPattern: e.data[block + 192 + p / 16]))
            return (float16(e.data[block + 208], e.data[block + 209]) * Double(sc) * Double((low | high << 4) - 32), 0)
        case .bf16:
            let at = 2 * (r * k + j)
            return (bfloat16(e.data[at], e.data[at + 1]), 0)
        case .f16:
            let at = 2 * (r * k + j)
            return (float16(e.data[at], e.data[at + 1]), 0)
        }
    }
}

/// An IEEE binary16 stored little-endian, decoded from its bit fields (sign,
/// 5-bit exponent biased by 15, 10-bit fraction; subnormals below 2⁻¹⁴).
public func float16(_ lo: UInt8, _ hi: UInt8) -> Double {
    let bits = Int(lo) | Int(hi) << 8
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1, exponent = bits >> 10 & 0x1F, fraction = Double(bits & 0x3FF)
    switch exponent {
    case 0: return sign * fraction * 0x1p-24
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * pow(2, Double(exponent - 15))
    }
}

/// A bfloat16 stored little-endian, decoded from its bit fields (sign, 8-bit
/// exponent biased by 127, 7-bit fraction; subnormals below 2⁻¹²⁶).
public func bfloat16(_ lo: UInt8, _ hi: UInt8) -> Double {
    let bits = Int(lo) | Int(hi) << 8
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1, exponent = bits >> 7 & 0xFF, fraction = Double(bits & 0x7F)
    switch exponent {
    case 0: return sign * fraction * 0x1p-133
    case 255: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 128) * pow(2, Double(exponent - 127))
    }
}

/// The quantization step a group of weights gets by definition (DESIGN.md,
/// QuantFormat), computed here from the weights themselves: symmetric formats
/// `max|w| / qmax`, asymmetric int4 `(max(w, 0) − min(w, 0)) / 15`, Q4_1
/// `(max − m) / 15` with `m` its fp16 minimum; GGUF scales rounded to fp16
/// as stored. `slack` is what Q4_1's fp16 minimum may add to a weight's
/// error (weights under `m` clamp to it).
/// Q5_0 and Q5_1 follow llama.cpp's reference quantizers: `|d| = absmax / 16`
/// (the weight of largest magnitude takes level 0, so one of the opposite sign
/// at `+16·|d|` clamps to 15: half a step more) and `(max − min) / 31`; both
/// round against the unrounded `d` (and minimum), so the fp16 rounding of `d`
/// (relative 2⁻¹¹ over at most 16 or 31 steps) and of the minimum add to the slack.

public func definitionStep(_ group: [Float], _ format: QuantFormat) -> (step: Double, minimum: Double?, slack: Double) {
    let w = group.map(Double.init)
    let absmax = w.map(abs).max()!, lo = w.min()!, hi = w.max()!
    func fp16(_ x: Double) -> Double { Double(Float16(Float(x))) }
    switch format {
    case .int8PerChannel: return (absmax / 127, nil, 0)
    case let .int4(_, symmetric): return (symmetric ? absmax / 7 : (max(hi, 0) - min(lo, 0)) / 15, nil, 0)
    case .q8_0: return (fp16(absmax / 127), nil, 0)
    case .q4_0: return (fp16(absmax / 7), nil, 0)
    case .q4_1:
        let m = fp16(lo)
        return (fp16((hi - m) / 15), m, abs(m - lo))
    case .q5_0:
        let step = fp16(absmax / 16)
        return (step, nil, step / 2 + 16 * step * 0x1p-11)
    case .q5_1:
        let m = fp16(lo), step = fp16((hi - lo) / 31)
        return (step, m, abs(m - lo) + 31 * step * 0x1p-11)
    case .q4_K, .q6_K:
        preconditionFailure("\(format) scales come from llama.cpp's search, not a closed form: see KQuantTests")
    // Rounding to nearest moves w by at most half an ulp: 2⁻⁸·|w| for bf16 (8
    // significant bits), 2⁻¹¹·|w| for fp16 normals and 2⁻²⁵ below them; the
    // row's step is twice that at its largest value.
    case .bf16: return (absmax * 0x1p-7, nil, 0)
    case .f16: return (absmax * 0x1p-10 + 0x1p-24, nil, 0)
    }
}
