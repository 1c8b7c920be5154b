import Foundation
// Value types that describe the arguments of the training and attention ops
// of ``Backend``. Their ops land with their issues; the types are fixed now so
// the protocol does not change shape later.

/// Per-row statistics a layer norm saves for its backward pass (`[rows]` each).
public struct NormStatistics: Sendable {
    public var mean: Tensor
    public var rstd: Tensor
    public init(mean: Tensor, rstd: Tensor) { self.mean = mean; self.rstd = rstd }
}

public struct LayerNormGradients: Sendable {
    public var dx: Tensor, dGamma: Tensor, dBeta: Tensor
    public init(dx: Tensor, dGamma: Tensor, dBeta: Tensor) { self.dx = dx; self.dGamma = dGamma; self.dBeta = dBeta }
}

public struct AttentionGradients: Sendable {
    public var dq: Tensor, dk: Tensor, dv: Tensor
    public init(dq: Tensor, dk: Tensor, dv: Tensor) { self.dq = dq; self.dk = dk; self.dv = dv }
}

public enum Reduction: String, Sendable, CaseIterable { case sum, mean, max, sumOfSquares }

/// Whether a quantized GEMM keeps activations in fp32 or quantizes them to
/// int8 for integer dot products (W8A8): with one scale per row (token), or
/// with one per block of 32 along K, rounded to fp16, as llama.cpp quantizes
/// activations for its Q8_0/Q4_0/Q4_1 products (K a multiple of 32; far
/// less error than a row scale when a few features are large).
public enum ActivationPrecision: String, Sendable, CaseIterable { case f32, int8PerRow, int8PerBlock }

/// AdamW's first and second moments, each shaped like the parameter.
public struct AdamWState: Sendable {
    public var m: Tensor, v: Tensor
    public init(m: Tensor, v: Tensor) { self.m = m; self.v = v }
}

/// The hyper-parameters of one AdamW step (decoupled weight decay, bias-corrected moments).
public struct AdamWStep: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 0.01
    /// 1-based step number, for bias correction.
    public var step: Int
    /// Multiplies the gradient first (global-norm clipping computes it).
    public var gradientScale: Float = 1
    public init(learningRate: Float, step: Int) { self.learningRate = learningRate; self.step = step }
}

/// Which features a rotary embedding pairs up.
public enum RopeStyle: String, Sendable, CaseIterable {
    /// Features 2i and 2i+1 (llama.cpp's normal mode; GGUF Llama weights are permuted for it).
    case interleaved
    /// Features i and i + rotaryDim/2 (Hugging Face's `rotate_half`, GPT-NeoX).
    case halves
}

/// `base^(−2i/rotaryDim)` for each pair i, computed in double so every backend
/// starts from the same correctly rounded frequencies (close to llama.cpp's, for
/// GGUF models; Hugging Face checkpoints use ``RotaryFrequencies``' float32 steps,
/// which can differ by an ulp: enough to flip a near-tie in SmolLM2's greedy
/// golden text).
public func ropeFrequencies(base: Float, rotaryDim: Int) -> [Float] {
    (0..<rotaryDim / 2).map { Float(pow(Double(base), -2 * Double($0) / Double(rotaryDim))) }
}

/// The activation of a gated MLP's gate, `out = activation(gate) · up`.
public enum GateActivation: String, Sendable, CaseIterable {
    /// `g / (1 + e^−g)` (Llama, Mistral, Qwen, Phi-3: SwiGLU).
    case silu
    /// `0.5·g·(1 + tanh(√(2/π)·(g + 0.044715·g³)))`, PyTorch's
    /// `gelu(approximate="tanh")` (Gemma's `gelu_pytorch_tanh`).
    case geluTanh
}
