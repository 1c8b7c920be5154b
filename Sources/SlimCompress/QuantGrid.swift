import SlimCore

/// The grid one row (int8) or one group (int4) of weights is rounded to, with
/// the same rules as `QuantCodec.encode`, so a method that picks its own
/// levels (GPTQ) writes weights every kernel reads the same way.
struct QuantGrid {
    let scale: Float
    let zero: Int
    let lo: Int, hi: Int
    /// Levels are stored with this offset (int4 symmetric: +8).
    let offset: Int
    /// Added to every weight (Q5_1's fp16 minimum): `w = scale · (level − zero) + minimum`.
    var minimum: Float = 0

    static func fit<Values: Collection<Float>>(_ values: Values, format: QuantFormat) -> QuantGrid {
        switch format {
        case .int4(_, false):
            let lo = min(values.min() ?? 0, 0), hi = max(values.max() ?? 0, 0)
            let scale = (hi - lo) / 15
            let zero = scale == 0 ? 0 : FiniteCheck.level(-lo / scale, lo: 0, hi: 15) ?? 0
            return QuantGrid(scale: scale, zero: zero, lo: 0, hi: 15, offset: 0)
        case .int4:
            return QuantGrid(scale: (values.map(abs).max() ?? 0) / 7, zero: 8, lo: 0, hi: 15, offset: 8)
        case .q4_0:  // the codec's d = absmax / 7, stored in fp16 (an overflow to ∞ is refused by level)
            return QuantGrid(scale: Float(Float16((values.map(abs).max() ?? 0) / 7)), zero: 8, lo: 0, hi: 15, offset: 8)
        case .q8_0:
            return QuantGrid(scale: Float(Float16((values.map(abs).max() ?? 0) / 127)), zero: 0, lo: -127, hi: 127, offset: 0)
        case .q5_0:
            // llama.cpp's d = max / −16 with max the (first) weight of largest magnitude, stored in fp16:
            // that weight is level 0, and the levels run −16...15 about zero.
            var amax: Float = 0, peak: Float = 0
            for v in values where amax < abs(v) { (amax, peak) = (abs(v), v) }
            return QuantGrid(scale: Float(Float16(peak / -16)), zero: 16, lo: 0, hi: 31, offset: 16)
        case .q5_1:
            // llama.cpp's minimum and d = (max − min) / 31, each stored in fp16.
            let lo = values.min() ?? 0, hi = values.max() ?? 0
            return QuantGrid(scale: Float(Float16((hi - lo) / 31)), zero: 0, lo: 0, hi: 31, offset: 0, minimum: Float(Float16(lo)))
        default:  // int8 per channel
            return QuantGrid(scale: (values.map(abs).max() ?? 0) / 127, zero: 0, lo: -127, hi: 127, offset: 0)
        }
    }

    /// The stored level of `x`; nil when `x` or the scale is not finite
    /// (GPTQ's updates can overflow where its inputs did not).
    func level(_ x: Float) -> Int? {
        guard scale.isFinite, minimum.isFinite else { return nil }
        guard scale != 0 else { return zero }
        // Rounded before the zero point is added, as the codec does (adding first could move a near-tie).
        return FiniteCheck.level((x - minimum) / scale, lo: lo - zero, hi: hi - zero).map { $0 + zero }
    }

    /// The weight a level stands for (with a minimum: `scale · level + minimum`, rounded as llama.cpp decodes Q5_1).
    func value(_ level: Int) -> Float { minimum == 0 ? scale * Float(level - zero) : scale * Float(level - zero) + minimum }
}

/// The grid GPTQ rounds one group to: a ``QuantGrid`` (int8 rows, int4
/// groups), or a k-quant super-block's stored scales, found by llama.cpp's
/// search from the weights as they stand and already rounded to their stored
/// 6-bit and fp16 precision, so each level GPTQ picks is exactly what the
/// block will decode to.
enum GroupGrid {
    case uniform(QuantGrid)
    case kQuant(KQuantBlock.Grid)

    static func fit<Values: Collection<Float>>(_ values: Values, format: QuantFormat) throws(SlimError) -> GroupGrid {
        guard format.isKQuant else { return .uniform(QuantGrid.fit(values, format: format)) }
        let x = Array(values)[...]
        guard let (grid, _) = format == .q4_K ? KQuantBlock.q4KGrid(x) : KQuantBlock.q6KGrid(x) else {
            throw .invalidArgument("weights beyond what a super-block's fp16 scale can hold")
        }
        return .kQuant(grid)
    }

    /// The stored level of `x`, the group's `position`-th weight; nil when `x` is not finite.
    /// A k-quant sub-block whose step is 0 decodes every level alike: level 0.
    func level(_ x: Float, at position: Int) -> Int? {
        switch self {
        case let .uniform(g): return g.level(x)
        case let .kQuant(g):
            guard x.isFinite else { return nil }
            return g.level(x, subBlock: position / g.subBlock) ?? 0
        }
    }

    /// The weight a level stands for, rounded as the decoders round it.
    func value(_ level: Int, at position: Int) -> Float {
        switch self {
        case let .uniform(g): return g.value(level)
        case let .kQuant(g): return g.value(level, subBlock: position / g.subBlock)
        }
    }
}
