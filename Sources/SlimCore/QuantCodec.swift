/// Round-to-nearest quantization and dequantization on the host, for every
/// ``QuantFormat``: the one place that knows how values become bytes. Backends
/// use it to quantize; tests use it as the reference for their decoders.
///
/// Every scale is rounded to its stored precision *before* the weights are
/// rounded against it, so each weight lands within half a step of the stored
/// scale (except Q4_1, whose fp16 minimum adds its own rounding). Q4_0 picks
/// `d = absmax / 7` rather than llama.cpp's `max / −8`: the layout is llama.cpp's,
/// but no weight is clamped a full step away.
public enum QuantCodec {
    /// The bytes of a quantized `[rows, columns]` weight, laid out as ``QuantFormat`` documents.
    public struct Encoded: Sendable, Equatable {
        public var data: [UInt8]
        public var scales: [Float]
        public var zeros: [UInt8]
        public init(data: [UInt8], scales: [Float] = [], zeros: [UInt8] = []) {
            self.data = data
            self.scales = scales
            self.zeros = zeros
        }
    }

    /// Round to nearest. `name` (the tensor's) is for errors: NaN and ±∞ have
    /// no level and are refused, as is a weight so large that its block's
    /// fp16 scale would overflow (Q8_0, Q4_0, Q4_1).
    public static func encode(_ w: [Float], rows: Int, columns k: Int, format: QuantFormat, name: String = "") throws(SlimError) -> Encoded {
        try format.validate(rows: rows, columns: k, name: name.isEmpty ? "weight" : "'\(name)'")
        guard w.count == rows * k else {
            throw .shapeMismatch(op: "quantize \(format)", detail: "\(w.count) values for a \(rows)x\(k) weight")
        }
        try FiniteCheck.requireQuantizable(w, tensor: name, format: format)
        if format.isFloat16 { return try encodeFloat16(w, columns: k, format: format, name: name) }
        // Finite weights can still make an infinite scale (a range wider than Float.greatestFiniteMagnitude).
        func scaleOf(_ s: Float, at r: Int) throws(SlimError) -> Float {
            guard s.isFinite else {
                throw .invalidArgument("quantize \(format): '\(name)' row \(r) spans a range too wide for an fp32 scale")
            }
            return s
        }
        var out = Encoded(data: [])
        for r in 0..<rows {
            let row = w[r * k ..< (r + 1) * k]
            switch format {
            case .int8PerChannel:
                let scale = try scaleOf((row.map(abs).max() ?? 0) / 127, at: r)
                out.scales.append(scale)
                out.data += row.map { UInt8(bitPattern: Int8(roundClamp($0, scale, -127, 127))) }
            case let .int4(g, symmetric):
                for start in stride(from: row.startIndex, to: row.endIndex, by: g) {
                    let group = Array(row[start ..< start + g])
                    var levels: [Int]
                    if symmetric {
                        let scale = try scaleOf((group.map(abs).max() ?? 0) / 7, at: r)
                        out.scales.append(scale)
                        levels = group.map { roundClamp($0, scale, -8, 7) + 8 }
                    } else {
                        let lo = min(group.min()!, 0), hi = max(group.max()!, 0)
                        let scale = try scaleOf((hi - lo) / 15, at: r)
                        let zero = scale == 0 ? 0 : FiniteCheck.level(-lo / scale, lo: 0, hi: 15) ?? 0
                        out.scales.append(scale)
                        out.zeros.append(UInt8(zero))
                        levels = group.map { min(15, max(0, roundClamp($0, scale, -15, 15) + zero)) }
                    }
                    out.data += packNibbles(levels)
                }
            case .q8_0, .q4_0, .q4_1:
                for start in stride(from: row.startIndex, to: row.endIndex, by: 32) {
                    guard let block = ggufBlock(Array(row[start ..< start + 32]), format) else {
                        throw .invalidArgument("quantize \(format): '\(name)' row \(r) holds weights beyond what a block's fp16 scale can hold"
                                               + " (|w| up to \(Float(Float16.greatestFiniteMagnitude)) × the format's largest level)")
                    }
                    out.data += block
                }
            case .bf16, .f16:
                preconditionFailure("16-bit floats are encoded by encodeFloat16")
            case .q4_K, .q6_K:
                for start in stride(from: row.startIndex, to: row.endIndex, by: KQuantBlock.weights) {
                    guard let block = KQuantBlock.encode(row[start ..< start + KQuantBlock.weights], format: format) else {
                        throw .invalidArgument("quantize \(format): '\(name)' row \(r) holds weights beyond what a super-block's fp16 scale can hold")
                    }
                    out.data += block
                }
            case .q5_0, .q5_1:
                for start in stride(from: row.startIndex, to: row.endIndex, by: Q5Block.weights) {
                    guard let block = Q5Block.encode(row[start ..< start + Q5Block.weights], format: format) else {
                        throw .invalidArgument("quantize \(format): '\(name)' row \(r) holds weights beyond what a block's fp16 scale can hold")
                    }
                    out.data += block
                }
            }
        }
        return out
    }

    public static func decode(_ e: Encoded, rows: Int, columns k: Int, format: QuantFormat) throws(SlimError) -> [Float] {
        try format.validate(rows: rows, columns: k)
        if format.isFloat16 { return try decodeFloat16(e, count: rows * k, format: format) }
        var w = [Float](repeating: 0, count: rows * k)
        for r in 0..<rows {
            switch format {
            case .int8PerChannel:
                for j in 0..<k { w[r * k + j] = e.scales[r] * Float(Int8(bitPattern: e.data[r * k + j])) }
            case let .int4(g, symmetric):
                let groups = k / g
                for gi in 0..<groups {
                    let scale = e.scales[r * groups + gi]
                    let zero = symmetric ? 8 : Int(e.zeros[r * groups + gi])
                    let bytes = Array(e.data[(r * k + gi * g) / 2 ..< (r * k + gi * g + g) / 2])
                    for (j, u) in unpackNibbles(bytes).enumerated() { w[r * k + gi * g + j] = scale * Float(u - zero) }
                }
            case .q8_0, .q4_0, .q4_1:
                let bb = format.ggufBlockBytes!, blocks = k / 32
                for b in 0..<blocks {
                    let at = (r * blocks + b) * bb
                    let values = decodeBlock(Array(e.data[at ..< at + bb]), format)
                    for j in 0..<32 { w[r * k + b * 32 + j] = values[j] }
                }
            case .bf16, .f16:
                preconditionFailure("16-bit floats are decoded by decodeFloat16")
            case .q4_K, .q6_K:
                let bb = format.ggufBlockBytes!, blocks = k / KQuantBlock.weights
                for b in 0..<blocks {
                    let at = (r * blocks + b) * bb
                    let values = KQuantBlock.decode(e.data[at ..< at + bb], format: format)
                    for j in 0..<KQuantBlock.weights { w[r * k + b * KQuantBlock.weights + j] = values[j] }
                }
            case .q5_0, .q5_1:
                let bb = format.ggufBlockBytes!, blocks = k / Q5Block.weights
                for b in 0..<blocks {
                    let at = (r * blocks + b) * bb
                    let values = Q5Block.decode(e.data[at ..< at + bb], format: format)
                    for j in 0..<Q5Block.weights { w[r * k + b * Q5Block.weights + j] = values[j] }
                }
            }
        }
        return w
    }

    /// bf16 or f16 little-endian, rounded to nearest even; a finite value past the
    /// type's range (which would round to ±∞) is refused, naming where it is.
    static func encodeFloat16(_ w: [Float], columns k: Int, format: QuantFormat, name: String) throws(SlimError) -> Encoded {
        var data = [UInt8](repeating: 0, count: 2 * w.count)
        var overflow: Int? = nil
        data.withUnsafeMutableBytes { raw in
            let out = raw.bindMemory(to: UInt16.self)
            for i in w.indices {
                let bits = format == .bf16 ? HalfFloats.bf16(w[i]) : HalfFloats.f16(w[i])
                out[i] = bits.littleEndian
                if bits & 0x7FFF == (format == .bf16 ? 0x7F80 : 0x7C00), overflow == nil { overflow = i }
            }
        }
        if let i = overflow {
            throw .invalidArgument("quantize \(format): '\(name)' row \(i / k) column \(i % k) holds \(w[i]), beyond \(format)'s largest finite value")
        }
        return Encoded(data: data)
    }

    static func decodeFloat16(_ e: Encoded, count: Int, format: QuantFormat) throws(SlimError) -> [Float] {
        guard e.data.count == 2 * count else {
            throw .shapeMismatch(op: "decode \(format)", detail: "\(e.data.count) bytes for \(count) weights")
        }
        return e.data.withUnsafeBytes { raw in
            (0..<count).map { i in
                let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                return format == .bf16 ? HalfFloats.float(bf16: bits) : HalfFloats.float(f16: bits)
            }
        }
    }

    /// One GGUF block of 32 weights.
    /// Packs integer levels a method chose itself (GPTQ) in `format`'s layout:
    /// int8 levels in −127...127 with one scale per row; int4 levels in 0...15
    /// (w = scale · (level − 8) symmetric, scale · (level − zero) asymmetric)
    /// with one scale (and zero) per group.
    /// Levels of any integer width (GPTQ keeps a wide layer's as Int16: a quarter of Int's memory).
    public static func encode<Level: BinaryInteger>(levels: [Level], rows: Int, columns k: Int, format: QuantFormat, scales: [Float],
                                                    zeros: [UInt8] = []) throws(SlimError) -> Encoded {
        try format.validate(rows: rows, columns: k)
        guard levels.count == rows * k else {
            throw .shapeMismatch(op: "pack \(format)", detail: "\(levels.count) levels for a \(rows)x\(k) weight")
        }
        switch format {
        case .int8PerChannel:
            return Encoded(data: levels.map { UInt8(bitPattern: Int8(clamping: $0)) }, scales: scales)
        case .int4:
            return Encoded(data: packNibbles(levels), scales: scales, zeros: zeros)
        case .q8_0, .q4_0:
            // One fp16 `d` per block of 32 (`scales`, already fp16-exact), levels as for int8 / symmetric int4.
            guard scales.count == rows * k / 32, scales.allSatisfy({ $0.isFinite && Float(Float16($0)) == $0 }) else {
                throw .invalidArgument("pack \(format) levels: needs one fp16-exact, finite scale per block of 32")
            }
            var data = [UInt8]()
            data.reserveCapacity(rows * k / 32 * format.ggufBlockBytes!)
            for (b, d) in scales.enumerated() {
                let run = levels[b * 32 ..< b * 32 + 32]
                data += halfBytes(d) + (format == .q8_0 ? run.map { UInt8(bitPattern: Int8(clamping: $0)) } : packNibbles(Array(run)))
            }
            return Encoded(data: data)
        case .q4_1, .q4_K, .q6_K, .q5_0, .q5_1:
            throw .unsupported(op: "pack \(format) levels", backend: "host",
                               reason: "GGUF blocks are written by encode(_:rows:columns:format:) (from levels: KQuantBlock.pack, Q5Block.pack)")
        case .bf16, .f16:
            throw .unsupported(op: "pack \(format) levels", backend: "host", reason: "\(format) weights are floats, not levels: encode the values")
        }
    }

    /// nil when the block's fp16 scale (or Q4_1 minimum) overflows to ±∞.
    static func ggufBlock(_ x: [Float], _ format: QuantFormat) -> [UInt8]? {
        switch format {
        case .q8_0:
            let d = Float(Float16((x.map(abs).max() ?? 0) / 127))
            guard d.isFinite else { return nil }
            return halfBytes(d) + x.map { UInt8(bitPattern: Int8(roundClamp($0, d, -127, 127))) }
        case .q4_0:
            let d = Float(Float16((x.map(abs).max() ?? 0) / 7))
            guard d.isFinite else { return nil }
            return halfBytes(d) + packNibbles(x.map { roundClamp($0, d, -8, 7) + 8 })
        default:  // q4_1
            let m = Float(Float16(x.min()!))
            let d = Float(Float16((x.max()! - m) / 15))
            guard m.isFinite, d.isFinite else { return nil }
            return halfBytes(d) + halfBytes(m) + packNibbles(x.map { min(15, max(0, roundClamp($0 - m, d, 0, 15))) })
        }
    }

    static func decodeBlock(_ b: [UInt8], _ format: QuantFormat) -> [Float] {
        let d = half(b[0], b[1])
        switch format {
        case .q8_0: return b[2..<34].map { d * Float(Int8(bitPattern: $0)) }
        case .q4_0: return unpackNibbles(Array(b[2..<18])).map { d * Float($0 - 8) }
        default:
            let m = half(b[2], b[3])
            return unpackNibbles(Array(b[4..<20])).map { d * Float($0) + m }
        }
    }

    /// `round(x / scale)` clamped to `[lo, hi]`; 0 when the scale is 0 (an all-zero block).
    /// `encode` has checked that `x` and `scale` are finite, so `x / scale` is never NaN.
    static func roundClamp(_ x: Float, _ scale: Float, _ lo: Int, _ hi: Int) -> Int {
        guard scale != 0 else { return 0 }
        return FiniteCheck.level(x / scale, lo: lo, hi: hi) ?? 0
    }

    /// Packs levels in runs of 32: byte `j` = level `j` | level `j + 16` << 4.
    /// Levels clamped to 0...15, two to a byte: level j and j + 16 of each run of 32.
    static func packNibbles<Level: BinaryInteger>(_ levels: [Level]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: levels.count / 2)
        for s in stride(from: 0, to: levels.count, by: 32) {
            for j in 0..<16 {
                let lo = UInt8(clamping: min(15, max(0, levels[s + j]))), hi = UInt8(clamping: min(15, max(0, levels[s + j + 16])))
                bytes[s / 2 + j] = lo | hi << 4
            }
        }
        return bytes
    }

    static func unpackNibbles(_ bytes: [UInt8]) -> [Int] {
        stride(from: 0, to: bytes.count, by: 16).flatMap { s in
            (0..<16).map { Int(bytes[s + $0] & 0xF) } + (0..<16).map { Int(bytes[s + $0] >> 4) }
        }
    }

    static func halfBytes(_ x: Float) -> [UInt8] {
        let bits = Float16(x).bitPattern
        return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
    }

    /// The index of the first GGUF block (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K) of `data`
    /// whose fp16 scale (or Q4_1/Q5_1 minimum, Q4_K `dmin`) is NaN or ±∞; nil if none or for other formats.
    public static func firstNonFiniteBlock(_ data: [UInt8], format: QuantFormat) -> Int? {
        guard let size = format.ggufBlockBytes else { return nil }
        // Byte offsets of the block's fp16 factors.
        let halves = switch format {
        case .q4_1, .q5_1, .q4_K: [0, 2]
        case .q6_K: [208]
        default: [0]
        }
        for (b, at) in stride(from: 0, to: data.count - size + 1, by: size).enumerated() {
            for h in halves where !half(data[at + h], data[at + h + 1]).isFinite { return b }
        }
        return nil
    }

    /// The fp16 value stored little-endian in two bytes.
    public static func half(_ lo: UInt8, _ hi: UInt8) -> Float { Float(Float16(bitPattern: UInt16(lo) | UInt16(hi) << 8)) }
}
