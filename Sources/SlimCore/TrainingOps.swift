import Foundation
// Values shared by every backend's training ops: the targets of the softmax
// loss rows (``Backend/softmaxLossRows(_:target:temperature:loss:gradient:gradientScale:)``),
// the cosine's norm floor, and AdamW's per-step scalars. The losses themselves,
// composed of backend ops, are in Losses.swift.

/// What a softmax loss over rows compares each row's distribution with.
public enum SoftmaxTarget: Sendable {
    /// One i32 class per row. A row whose label equals `ignoreIndex` has loss 0
    /// and gradient 0; any other label outside `0..<width` gives a row of NaN
    /// (never a read outside the row). ``Backend/crossEntropyLoss(logits:labels:ignoreIndex:gradient:)``
    /// rejects such labels before launching.
    case labels(Tensor, ignoreIndex: Int32)
    /// A teacher's logits, shaped like the student's and softened by the same
    /// temperature: the row loss is KL(teacher ‖ student).
    case logits(Tensor)
}

/// The norm below which ``Backend/cosineSimilarityRows(_:_:into:gradA:gradB:gradientScale:)``
/// clamps a row's norm (PyTorch's `cosine_similarity` eps): a zero row has cosine 0.
public let cosineNormFloor: Float = 1e-8

extension AdamWStep {
    /// The bias corrections `1 / (1 − β₁ᵗ)` and `1 / (1 − β₂ᵗ)`, computed in
    /// double so every backend multiplies by the same fp32 values.
    public var biasCorrections: (first: Float, second: Float) {
        (Float(1 / (1 - pow(Double(beta1), Double(step)))), Float(1 / (1 - pow(Double(beta2), Double(step)))))
    }

    /// `1 − lr·wd`, the decoupled weight decay as a factor on the parameter.
    public var decayFactor: Float { 1 - learningRate * weightDecay }
}
