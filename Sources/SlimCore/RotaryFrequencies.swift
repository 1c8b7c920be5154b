import Foundation

/// How a checkpoint stretches its rotary embedding past the context it was
/// trained on (`rope_scaling` in a Hugging Face `config.json`).
public enum RopeScaling: Sendable, Equatable {
    /// `rope_type: "linear"`: every frequency divided by `factor` (positions interpolated).
    case linear(factor: Float)
    /// `rope_type: "llama3"` (Llama 3.1+): wavelengths longer than
    /// `originalContext / lowFrequencyFactor` divided by `factor`, shorter than
    /// `originalContext / highFrequencyFactor` kept, and a smooth blend between.
    case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalContext: Int)
}

/// The rotary embedding's inverse frequencies, one per pair of rotated
/// features, as the `transformers` library computes them
/// (`modeling_rope_utils.py`: `_compute_default_rope_parameters`,
/// `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`).
///
/// Each step is the float32 operation torch performs, in torch's order, so the
/// table matches the one a Hugging Face model runs with: `a / tensor` in torch
/// is `tensor.reciprocal() * a`, and a Python scalar meeting a float32 tensor
/// is rounded to float32 first. The one step that may differ is the power:
/// torch's vectorised `pow` is within 1 ulp, here it is correctly rounded.
public enum RotaryFrequencies {
    /// `1 / base^(2i / rotaryDim)` for i in 0..<rotaryDim/2, then `scaling`'s rule.
    /// `rotaryDim` is the rotated part of a head (even; the rope op checks it).
    public static func inverse(base: Float, rotaryDim: Int, scaling: RopeScaling?) -> [Float] {
        let dim = Float(rotaryDim)
        // inv_freq = 1.0 / (base ** (arange(0, dim, 2, int64).float() / dim))
        let table = stride(from: 0, to: rotaryDim, by: 2).map { i -> Float in
            let exponent = Float(i) / dim
            let power = Float(pow(Double(base), Double(exponent)))
            return 1 / power
        }
        switch scaling {
        case nil: return table
        case let .linear(factor): return table.map { $0 / factor }
        case let .llama3(factor, low, high, originalContext):
            return table.map { llama3($0, factor: factor, low: low, high: high, originalContext: originalContext) }
        }
    }

    /// One frequency of `_compute_llama3_parameters`, step by step.
    private static func llama3(_ invFreq: Float, factor: Float, low: Float, high: Float, originalContext: Int) -> Float {
        // Python floats (double) in transformers, rounded to float32 where they meet the tensor.
        let lowFrequencyWavelength = Float(Double(originalContext) / Double(low))
        let highFrequencyWavelength = Float(Double(originalContext) / Double(high))
        let wavelength = (1 / invFreq) * Float(2 * Double.pi)  // 2 * math.pi / inv_freq
        let scaled = wavelength > lowFrequencyWavelength ? invFreq / factor : invFreq
        // (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        let smooth = ((1 / wavelength) * Float(originalContext) - low) / Float(Double(high) - Double(low))
        let smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        let medium = !(wavelength < highFrequencyWavelength) && !(wavelength > lowFrequencyWavelength)
        return medium ? smoothed : scaled
    }
}
