import SlimCore

/// One conformance check: an op on one case, run on any backend and compared
/// with a float64 reference by NMSE, `mse(actual, ref) / mse(ref, 0)` (ggml's
/// `test-backend-ops` metric). Outputs start as NaN, so an element an op
/// never writes makes the error NaN and the check fail.
public struct ConformanceCheck: Sendable {
    /// The `Backend` method checked ("gemm", "quantizedMatmul", …), what `--op` selects.
    public let op: String
    /// The case: sizes, format, options.
    public let detail: String
    /// The largest NMSE that passes.
    public let tolerance: Double
    /// Runs the op on the backend with inputs drawn from the generator and
    /// returns the worst NMSE over its outputs.
    let measure: @Sendable (any Backend, inout SeededGenerator) throws -> Double

    public init(op: String, detail: String, tolerance: Double = 1e-7,
                measure: @escaping @Sendable (any Backend, inout SeededGenerator) throws -> Double) {
        (self.op, self.detail, self.tolerance, self.measure) = (op, detail, tolerance, measure)
    }

    /// Runs the check with its own seed, so each one replays alone.
    public func run(on backend: any Backend, seed: UInt64) -> ConformanceResult {
        var rng = SeededGenerator(seed: seed)
        do {
            let error = try measure(backend, &rng)
            return ConformanceResult(op: op, detail: detail, nmse: error, tolerance: tolerance, failure: nil)
        } catch {
            return ConformanceResult(op: op, detail: detail, nmse: .nan, tolerance: tolerance, failure: "\(error)")
        }
    }
}

public struct ConformanceResult: Sendable {
    public let op: String, detail: String
    /// NaN when an output was left unwritten or not finite, or the op threw.
    public let nmse: Double
    public let tolerance: Double
    /// The error the op threw, if it did.
    public let failure: String?
    public var passed: Bool { failure == nil && nmse <= tolerance }
}

// MARK: - helpers for the checks

/// Uniform in [-scale, scale).
func draw(_ count: Int, scale: Float = 1, _ rng: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in Float.random(in: -scale..<scale, using: &rng) }
}

/// A tensor filled with NaN, so any element an op fails to write fails the check.
public func poisoned(_ backend: any Backend, _ shape: Shape) throws -> Tensor {
    try backend.tensor([Float](repeating: .nan, count: shape.elementCount), shape: shape)
}

/// The worst NMSE of several outputs (NaN wins: `max` would drop it).
func worst(_ errors: [Double]) -> Double {
    errors.contains { $0.isNaN } ? .nan : errors.max() ?? 0
}
