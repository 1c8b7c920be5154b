/// llama.cpp's k-quant super-blocks (Q4_K, Q6_K) of 256 weights, byte for byte
/// as `ggml-common.h` lays them out and `ggml-quants.c` fills them
/// (`quantize_row_q4_K_ref`, `quantize_row_q6_K_ref`), written again from that
/// definition. Quantizing is split in two so GPTQ can use the middle: the
/// super-block's ``Grid`` (its stored scales, minimums and fp16 factors, found
/// by llama.cpp's search from the weights), then each weight's level on that
/// grid, then the bytes.
///
/// The searches follow llama.cpp's fp32 arithmetic operation by operation (no
/// fused multiply-adds, ties rounded to even as its `nearest_int` does), so the
/// bytes equal llama.cpp's reference quantizer's (`Tests/Fixtures/kquants`).
public enum KQuantBlock {
    public static let weights = 256

    /// A super-block's stored scales: every factor at the precision the block stores it.
    public struct Grid: Sendable, Equatable {
        /// fp16 `d` (and Q4_K's fp16 `dmin`), as fp32.
        public var d: Float, dmin: Float
        /// Q4_K: eight 6-bit sub-block scales and eight 6-bit minimums; Q6_K: sixteen int8 scales.
        public var scales: [Int], mins: [Int]

        /// Weights per sub-block: 32 (Q4_K) or 16 (Q6_K).
        public var subBlock: Int { mins.isEmpty ? 16 : 32 }

        /// The step and offset of sub-block `s`: `w = step · level + offset`, the product exact in fp32
        /// (an fp16 times a 6- or 8-bit integer).
        public func stepAndOffset(_ s: Int) -> (step: Float, offset: Float) {
            mins.isEmpty ? (d * Float(scales[s]), 0) : (d * Float(scales[s]), -(dmin * Float(mins[s])))
        }

        /// The weight `level` stands for in sub-block `s`, rounded as llama.cpp's decoders
        /// round it: `(d·sc)·u − dmin·m`, and Q6_K's `(d·sc)·q` with no offset added (which
        /// would turn a −0.0 into +0.0).
        public func value(_ level: Int, subBlock s: Int) -> Float {
            let (step, offset) = stepAndOffset(s)
            return mins.isEmpty ? step * Float(level) : step * Float(level) + offset
        }

        /// The lowest and highest level: 0...15 (Q4_K), −32...31 (Q6_K).
        public var levels: ClosedRange<Int> { mins.isEmpty ? -32...31 : 0...15 }

        /// The level of `x` in sub-block `s` as llama.cpp's quantizer rounds it
        /// (`(x + dmin·m) / (d·sc)` or `x / (d·sc)`, ties to even, clamped); nil
        /// where the sub-block's step is 0 (llama.cpp keeps its search's level there).
        public func level(_ x: Float, subBlock s: Int) -> Int? {
            let step = d * Float(scales[s])
            guard step != 0 else { return nil }
            let q = mins.isEmpty ? x / step : (x + dmin * Float(mins[s])) / step
            return min(levels.upperBound, max(levels.lowerBound, nearestInt(q)))
        }
    }

    // MARK: - Q4_K

    /// The grid llama.cpp's reference quantizer gives 256 weights, with each
    /// sub-block's levels from its search (kept where a sub-block's stored step is 0).
    /// nil when `d` or `dmin` overflows fp16.
    public static func q4KGrid(_ x: ArraySlice<Float>) -> (grid: Grid, searchLevels: [Int])? {
        let x = Array(x)
        var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
        var levels = [Int](repeating: 0, count: 256)
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            let sub = Array(x[32 * j ..< 32 * j + 32])
            var sumX2: Float = 0
            for v in sub { sumX2 += v * v }
            let average = (sumX2 / 32).squareRoot()
            let weights = sub.map { average + abs($0) }
            let (scale, negMin, l) = affineSearch(sub, weights: weights, nmax: 15, rmin: -1, rdelta: 0.1, steps: 20)
            (scales[j], mins[j]) = (scale, negMin)
            levels.replaceSubrange(32 * j ..< 32 * j + 32, with: l)
            // Strict comparisons, as llama.cpp's: an all-zero sub-block's minimum is −0.0, which must not win.
            if scale > maxScale { maxScale = scale }
            if negMin > maxMin { maxMin = negMin }
        }
        let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0, inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
        // llama.cpp stores nearest_int into a uint8_t, then caps it at 63.
        let sc = scales.map { min(63, Int(UInt8(truncatingIfNeeded: nearestInt(inverseScale * $0)))) }
        let mn = mins.map { min(63, Int(UInt8(truncatingIfNeeded: nearestInt(inverseMin * $0)))) }
        let d = Float(Float16(maxScale / 63)), dmin = Float(Float16(maxMin / 63))
        guard d.isFinite, dmin.isFinite else { return nil }
        return (Grid(d: d, dmin: dmin, scales: sc, mins: mn), levels)
    }

    /// `make_qkx2_quants`: levels 0...nmax with `x ≈ scale · l − negMin`, the scale
    /// and minimum refit by weighted least squares over `steps + 1` trial scales.
    /// Returns (scale, −min ≥ 0, levels).
    static func affineSearch(_ x: [Float], weights: [Float], nmax: Int, rmin: Float, rdelta: Float, steps: Int)
        -> (Float, Float, [Int]) {
        let n = x.count
        var lo = x[0], hi = x[0], sumW = weights[0], sumX = weights[0] * x[0]
        for i in 1..<n {
            lo = min(lo, x[i])
            hi = max(hi, x[i])
            sumW += weights[i]
            sumX += weights[i] * x[i]
        }
        if lo > 0 { lo = 0 }
        if hi == lo { return (0, -lo, [Int](repeating: 0, count: n)) }
        var inverse = Float(nmax) / (hi - lo), scale = 1 / inverse
        var levels = [Int](repeating: 0, count: n), bestError: Float = 0
        for i in 0..<n {
            levels[i] = max(0, min(nmax, nearestInt(inverse * (x[i] - lo))))
            let diff = scale * Float(levels[i]) + lo - x[i]
            bestError += weights[i] * (diff * diff)
        }
        var trial = [Int](repeating: 0, count: n)
        for step in 0...steps {
            inverse = (rmin + rdelta * Float(step) + Float(nmax)) / (hi - lo)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(inverse * (x[i] - lo))))
                trial[i] = l
                let w = weights[i], lf = Float(l)
                sumL += w * lf
                sumL2 += w * lf * lf
                sumXL += w * lf * x[i]
            }
            let det = sumW * sumL2 - sumL * sumL
            guard det > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / det
            var thisMin = (sumL2 * sumX - sumL * sumXL) / det
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n {
                let diff = thisScale * Float(trial[i]) + thisMin - x[i]
                error += weights[i] * (diff * diff)
            }
            if error < bestError {
                levels = trial
                bestError = error
                scale = thisScale
                lo = thisMin
            }
        }
        return (scale, -lo, levels)
    }

    // MARK: - Q6_K

    /// The grid llama.cpp's reference quantizer gives 256 weights (levels −32...31
    /// from each sub-block's search, kept where its stored step is 0); nil when
    /// `d` overflows fp16. An all-zero super-block (every search scale below 1e-15) has d = 0.
    public static func q6KGrid(_ x: ArraySlice<Float>) -> (grid: Grid, searchLevels: [Int])? {
        let x = Array(x)
        var scales = [Float](repeating: 0, count: 16), levels = [Int](repeating: 0, count: 256)
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for s in 0..<16 {
            let (scale, l) = symmetricSearch(Array(x[16 * s ..< 16 * s + 16]), nmax: 32)
            scales[s] = scale
            levels.replaceSubrange(16 * s ..< 16 * s + 16, with: l)
            if abs(scale) > maxAbsScale { (maxAbsScale, maxScale) = (abs(scale), scale) }
        }
        if maxAbsScale < 1e-15 {
            // llama.cpp zeroes the whole block: every stored level is q = 0, i.e. −32.
            return (Grid(d: 0, dmin: 0, scales: [Int](repeating: 0, count: 16), mins: []), [Int](repeating: -32, count: 256))
        }
        let inverse = -128 / maxScale
        let d = Float(Float16(1 / inverse))
        guard d.isFinite else { return nil }
        return (Grid(d: d, dmin: 0, scales: scales.map { min(127, nearestInt(inverse * $0)) }, mins: []), levels)
    }

    /// `make_qx_quants` with squared weights (rmse_type 1): levels −nmax...nmax−1
    /// with `x ≈ scale · l`, the scale refit over 19 trial scales around `−nmax / max`.
    static func symmetricSearch(_ x: [Float], nmax: Int) -> (Float, [Int]) {
        var peak: Float = 0, amax: Float = 0
        for v in x where abs(v) > amax { (amax, peak) = (abs(v), v) }
        // llama.cpp's all-zero sub-block stores q = 0: level −nmax.
        if amax < 1e-15 { return (0, [Int](repeating: -nmax, count: x.count)) }
        func levels(_ inverse: Float) -> (sumLX: Float, sumL2: Float, levels: [Int]) {
            var sumLX: Float = 0, sumL2: Float = 0, out = [Int]()
            for v in x {
                let l = max(-nmax, min(nmax - 1, nearestInt(inverse * v)))
                out.append(l)
                let w = v * v, lf = Float(l)
                sumLX += w * v * lf
                sumL2 += w * lf * lf
            }
            return (sumLX, sumL2, out)
        }
        var first = levels(Float(-nmax) / peak)
        var scale = first.sumLX / first.sumL2, best = scale * first.sumLX
        for step in -9...9 where step != 0 {
            let trial = levels(-(Float(nmax) + 0.1 * Float(step)) / peak)
            if trial.sumL2 > 0, trial.sumLX * trial.sumLX > best * trial.sumL2 {
                first = trial
                scale = trial.sumLX / trial.sumL2
                best = scale * trial.sumLX
            }
        }
        return (scale, first.levels)
    }

    // MARK: - Levels and bytes

    /// The levels of 256 weights on `grid` (a search level where the sub-block's step is 0).
    public static func levels(_ x: ArraySlice<Float>, grid: Grid, searchLevels: [Int]) -> [Int] {
        let base = x.startIndex
        return (0..<256).map { i in grid.level(x[base + i], subBlock: i / grid.subBlock) ?? searchLevels[i] }
    }

    /// The block of `grid` and 256 levels (Q4_K: 0...15; Q6_K: −32...31), clamped to the grid's range.
    public static func pack<Level: BinaryInteger>(_ grid: Grid, _ levels: ArraySlice<Level>) -> [UInt8] {
        let base = levels.startIndex
        func level(_ i: Int) -> Int { min(grid.levels.upperBound, max(grid.levels.lowerBound, Int(levels[base + i]))) }
        if grid.mins.isEmpty {
            var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
            for half in 0..<2 {
                for l in 0..<32 {
                    let q = (0..<4).map { UInt8(level(128 * half + 32 * $0 + l) + 32) }
                    ql[64 * half + l] = q[0] & 0xF | (q[2] & 0xF) << 4
                    ql[64 * half + 32 + l] = q[1] & 0xF | (q[3] & 0xF) << 4
                    qh[32 * half + l] = q[0] >> 4 | (q[1] >> 4) << 2 | (q[2] >> 4) << 4 | (q[3] >> 4) << 6
                }
            }
            return ql + qh + grid.scales.map { UInt8(bitPattern: Int8($0)) } + halfBytes(grid.d)
        }
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            let (s, m) = (UInt8(grid.scales[j]), UInt8(grid.mins[j]))
            if j < 4 {
                packed[j] = s
                packed[j + 4] = m
            } else {
                packed[j + 4] = s & 0xF | (m & 0xF) << 4
                packed[j - 4] |= (s >> 4) << 6
                packed[j] |= (m >> 4) << 6
            }
        }
        var qs = [UInt8](repeating: 0, count: 128)
        for chunk in 0..<4 {
            for l in 0..<32 { qs[32 * chunk + l] = UInt8(level(64 * chunk + l)) | UInt8(level(64 * chunk + 32 + l)) << 4 }
        }
        return halfBytes(grid.d) + halfBytes(grid.dmin) + packed + qs
    }

    /// llama.cpp's reference quantizer for one super-block; nil when a fp16 factor overflows.
    public static func encode(_ x: ArraySlice<Float>, format: QuantFormat) -> [UInt8]? {
        guard let (grid, search) = format == .q4_K ? q4KGrid(x) : q6KGrid(x) else { return nil }
        return pack(grid, levels(x, grid: grid, searchLevels: search)[...])
    }

    /// The grid and levels a block stores.
    public static func unpack(_ b: ArraySlice<UInt8>, format: QuantFormat) -> (grid: Grid, levels: [Int]) {
        let b = Array(b)
        if format == .q6_K {
            var levels = [Int](repeating: 0, count: 256)
            for half in 0..<2 {
                for l in 0..<32 {
                    let low = b[64 * half + l], low2 = b[64 * half + 32 + l], high = b[128 + 32 * half + l]
                    let q = [low & 0xF, low2 & 0xF, low >> 4, low2 >> 4]
                    for i in 0..<4 { levels[128 * half + 32 * i + l] = Int(q[i] | (high >> (2 * i) & 3) << 4) - 32 }
                }
            }
            let scales = b[192..<208].map { Int(Int8(bitPattern: $0)) }
            return (Grid(d: QuantCodec.half(b[208], b[209]), dmin: 0, scales: scales, mins: []), levels)
        }
        var scales = [Int](), mins = [Int]()
        for j in 0..<8 {
            if j < 4 {
                scales.append(Int(b[4 + j] & 63))
                mins.append(Int(b[4 + j + 4] & 63))
            } else {
                scales.append(Int(b[4 + j + 4] & 0xF | (b[4 + j - 4] >> 6) << 4))
                mins.append(Int(b[4 + j + 4] >> 4 | (b[4 + j] >> 6) << 4))
            }
        }
        var levels = [Int](repeating: 0, count: 256)
        for chunk in 0..<4 {
            for l in 0..<32 {
                let byte = b[16 + 32 * chunk + l]
                levels[64 * chunk + l] = Int(byte & 0xF)
                levels[64 * chunk + 32 + l] = Int(byte >> 4)
            }
        }
        let grid = Grid(d: QuantCodec.half(b[0], b[1]), dmin: QuantCodec.half(b[2], b[3]), scales: scales, mins: mins)
        return (grid, levels)
    }

    /// The 256 weights of a block, rounded as llama.cpp's `dequantize_row_q4_K`/`_q6_K`:
    /// `(d·sc)·u − dmin·m` and `(d·sc)·q`, each product exact in fp32.
    public static func decode(_ b: ArraySlice<UInt8>, format: QuantFormat) -> [Float] {
        let (grid, levels) = unpack(b, format: format)
        return (0..<256).map { i in grid.value(levels[i], subBlock: i / grid.subBlock) }
    }

    /// llama.cpp's `nearest_int`: round to nearest, ties to even.
    @inline(__always) static func nearestInt(_ x: Float) -> Int {
        guard x.isFinite else { return 0 }
        // Clamped where no level could be (GPTQ's updated weights can land far off the grid).
        return Int(min(0x1p30, max(-0x1p30, x)).rounded(.toNearestOrEven))
    }

    static func halfBytes(_ x: Float) -> [UInt8] {
        let bits = Float16(x).bitPattern
        return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
    }
}
