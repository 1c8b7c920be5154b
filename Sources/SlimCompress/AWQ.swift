import CBLAS
import Foundation
import SlimCore

/// Activation-aware weight quantization (AWQ, Lin et al., 2023): input
/// channels that carry large activations matter more, so their weights are
/// scaled up before rounding (s_j = a_j^α, a_j the channel's activation
/// magnitude) and the inputs scaled down by the same factor at run time.
/// α is searched on a grid to minimise the output error on the calibration
/// data, tr(ΔW·H·ΔWᵀ) = Σ over calibration rows of ‖x·ΔWᵀ‖² (H = 2XᵀX), with
/// ΔW the effective weight's error; the channel magnitudes a_j come from H's diagonal.
public struct AWQ: Sendable {
    public var format: QuantFormat
    public var grid: [Double] = stride(from: 0.0, through: 1.0, by: 0.1).map { $0 }

    public init(format: QuantFormat) { self.format = format }

    /// The packed scaled weight, the per-input multipliers (1/s) to apply at run time, and the α chosen.
    public typealias Result = (encoded: QuantCodec.Encoded, inputScale: [Float], alpha: Double)

    public func quantize(_ w: [Float], rows n: Int, columns k: Int, hessian h: [Double], name: String = "") throws -> Result {
        guard h.count == k * k, w.count == n * k else {
            throw SlimError.shapeMismatch(op: "AWQ", detail: "a \(n)x\(k) weight needs a \(k)x\(k) Hessian")
        }
        try FiniteCheck.requireQuantizable(w, tensor: name, format: format)
        try GPTQ.requireFinite(hessian: h, name: name, method: "AWQ")
        let diagonal = (0..<k).map { max(h[$0 * k + $0], 0) }
        let magnitude = diagonal.map { $0.squareRoot() + 1e-8 }
        var best: (loss: Double, encoded: QuantCodec.Encoded, scale: [Double], alpha: Double)?
        for alpha in grid {
            var s = magnitude.map { pow($0, alpha) }
            // Centre the scales so the weights keep their overall range.
            let centre = ((s.max() ?? 1) * (s.min() ?? 1)).squareRoot()
            s = s.map { $0 / max(centre, 1e-12) }
            let scaled = (0..<n * k).map { Float(Double(w[$0]) * s[$0 % k]) }
            let encoded = try QuantCodec.encode(scaled, rows: n, columns: k, format: format, name: name + " (AWQ-scaled)")
            let restored = try QuantCodec.decode(encoded, rows: n, columns: k, format: format)
            let delta = (0..<n * k).map { Double(restored[$0]) / s[$0 % k] - Double(w[$0]) }
            let loss = Self.outputError(delta, rows: n, columns: k, hessian: h)
            if best == nil || loss < best!.loss { best = (loss, encoded, s, alpha) }
        }
        let chosen = best!
        return (chosen.encoded, chosen.scale.map { Float(1 / $0) }, chosen.alpha)
    }

    /// tr(Δ·H·Δᵀ) for Δ `[rows, columns]`.
    static func outputError(_ delta: [Double], rows n: Int, columns k: Int, hessian h: [Double]) -> Double {
        var product = [Double](repeating: 0, count: n * k)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(k), Int32(k), 1, delta, Int32(k), h, Int32(k),
                    0, &product, Int32(k))
        return zip(delta, product).reduce(0) { $0 + $1.0 * $1.1 }
    }
}
