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

    static func fit<Values: Collection<Float>>(_ values: Values, format: QuantFormat) -> QuantGrid {
        switch format {
        case .int4(_, false):
            let lo = min(values.min() ?? 0, 0), hi = max(values.max() ?? 0, 0)
            let scale = (hi - lo) / 15
            let zero = scale == 0 ? 0 : FiniteCheck.level(-lo / scale, lo: 0, hi: 15) ?? 0
            return QuantGrid(scale: scale, zero: zero, lo: 0, hi: 15, offset: 0)
        case .int4:
            return QuantGrid(scale: (values.map(abs).max() ?? 0) / 7, zero: 8, lo: 0, hi: 15, offset: 8)
        // GGUF blocks: the codec's scale rounded to its stored fp16 first, so every level is chosen on the grid the file holds.
        case .q8_0:
            return QuantGrid(scale: Float(Float16((values.map(abs).max() ?? 0) / 127)), zero: 0, lo: -127, hi: 127, offset: 0)
        case .q4_0:
            return QuantGrid(scale: Float(Float16((values.map(abs).max() ?? 0) / 7)), zero: 8, lo: 0, hi: 15, offset: 8)
        default:  // int8 per channel
            return QuantGrid(scale: (values.map(abs).max() ?? 0) / 127, zero: 0, lo: -127, hi: 127, offset: 0)
        }
    }

    /// The stored level of `x`; nil when `x` or the scale is not finite
    /// (GPTQ's updates can overflow where its inputs did not).
    func level(_ x: Float) -> Int? {
        guard scale.isFinite else { return nil }
        guard scale != 0 else { return zero }
        // Rounded before the zero point is added, as the codec does (adding first could move a near-tie).
        return FiniteCheck.level(x / scale, lo: lo - zero, hi: hi - zero).map { $0 + zero }
    }

    /// The weight a level stands for.
    func value(_ level: Int) -> Float { scale * Float(level - zero) }
}
