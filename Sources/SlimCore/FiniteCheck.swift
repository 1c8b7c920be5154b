/// Finding NaN and ±∞ in float data: the one check shared by every quantizer,
/// every model loader and every conversion of a float to an integer level
/// (Swift's `Int(x)` traps on a non-finite `x`, so whatever turns floats into
/// integers checks them first and throws instead).
public enum FiniteCheck {
    /// The first non-finite value of some data, and how many there are.
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public let index: Int
        public let value: Float
        public let count: Int

        public var description: String {
            let what = value.isNaN ? "NaN" : value > 0 ? "+inf" : "-inf"
            return "\(what) at element \(index)" + (count > 1 ? " (\(count) non-finite values in all)" : "")
        }
    }

    /// nil when every value is finite. The common case costs one pass: `x − x`
    /// is 0 for a finite `x` and NaN for NaN and ±∞, and a NaN survives every
    /// addition, so four running sums say whether anything is wrong; only then
    /// does a second pass find where. Four scalar sums rather than SIMD vectors:
    /// as fast in a release build (about 9 ms for MiniLM's 91 MB), and ten
    /// times faster in a debug one, where generic SIMD code is not inlined.
    public static func scan(_ values: UnsafeBufferPointer<Float>) -> Finding? {
        guard let p = values.baseAddress else { return nil }
        let n = values.count
        var a: Float = 0, b: Float = 0, c: Float = 0, d: Float = 0, i = 0
        while i + 4 <= n {
            a += p[i] - p[i]
            b += p[i + 1] - p[i + 1]
            c += p[i + 2] - p[i + 2]
            d += p[i + 3] - p[i + 3]
            i += 4
        }
        while i < n { a += p[i] - p[i]; i += 1 }
        guard (a + b + c + d).isNaN else { return nil }
        var first = -1, count = 0
        for j in 0..<n where !p[j].isFinite {
            if first < 0 { first = j }
            count += 1
        }
        return Finding(index: first, value: p[first], count: count)
    }

    public static func scan(_ values: [Float]) -> Finding? { values.withUnsafeBufferPointer { scan($0) } }

    /// Throws ``SlimError/nonFinite(tensor:origin:detail:)`` naming `tensor`
    /// when `values` hold NaN or ±∞; `consequence` says why that matters here.
    public static func require(_ values: [Float], tensor: String, origin: String, consequence: String) throws(SlimError) {
        guard let found = scan(values) else { return }
        throw .nonFinite(tensor: tensor.isEmpty ? "unnamed tensor" : tensor, origin: origin, detail: "\(found); \(consequence)")
    }

    /// `x` rounded to nearest (ties away from zero) and clamped to `lo...hi`,
    /// clamped while still a float so that ±∞ and values beyond `Int`'s range
    /// never reach `Int(_:)`, which traps; nil for NaN, which has no level.
    @inlinable
    public static func level(_ x: Float, lo: Int, hi: Int) -> Int? {
        guard !x.isNaN else { return nil }
        return Int(Swift.min(Float(hi), Swift.max(Float(lo), x.rounded())))
    }

    /// The check of every quantizer (round to nearest, GPTQ, AWQ, the QAT
    /// export): levels are integers, and a non-finite weight has none.
    public static func requireQuantizable(_ values: [Float], tensor: String, format: QuantFormat) throws(SlimError) {
        try require(values, tensor: tensor, origin: "quantize \(format)",
                    consequence: "a non-finite weight has no quantized level")
    }
}

/// Whether loading a model accepts weights that hold NaN or ±∞. It refuses
/// them by default: a NaN weight turns what it touches into NaN, or into
/// finite garbage on any path that drops NaN. `slim … --allow-nonfinite` runs
/// its command inside `NonFiniteWeights.$allowed.withValue(true) { … }`.
/// A task-local value, so it is scoped to the work that set it (a test that
/// allows them does not change another test running beside it) and seen by
/// the synchronous loading code that work calls.
public enum NonFiniteWeights {
    @TaskLocal public static var allowed = false

    /// Refuses the `values` of `tensor`, read from the file `origin`, unless allowed.
    public static func checkLoaded(_ values: [Float], tensor: String, origin: String) throws(SlimError) {
        guard !allowed, let found = FiniteCheck.scan(values) else { return }
        try refuse(tensor: tensor, origin: origin, finding: found.description)
    }

    /// Throws the refusal of `tensor` (what was found in it: `finding`) unless allowed.
    public static func refuse(tensor: String, origin: String, finding: String) throws(SlimError) {
        guard !allowed else { return }
        throw .nonFinite(tensor: tensor, origin: origin,
                         detail: finding + "; a model with non-finite weights computes NaN or garbage, so Slim refuses to load it"
                             + " (--allow-nonfinite loads it anyway)")
    }
}
