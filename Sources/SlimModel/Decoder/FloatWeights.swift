import SlimCore

/// What a decoder's float linear weights (those not stored quantized) run as.
/// Checkpoints of large models are mostly bf16: kept so (``stored``), they
/// run through the 16-bit-weight product (``QuantFormat/bf16``) at half the
/// memory of an fp32 copy, with the same values (widening is exact) and fp32
/// activations and sums, so outputs differ from the fp32 copy's only by the
/// order of fp32 additions (see cpu_w16.h).
public enum FloatWeights: String, Sendable, CaseIterable {
    /// As the checkpoint stores them: bf16 and f16 stay 16-bit, fp32 stays fp32.
    case stored
    /// Widened to fp32 (the dense fp32 GEMM): twice a bf16 checkpoint's memory.
    case f32
    /// Rounded to bf16 (nearest even) where stored wider; bf16 stays as it is.
    case bf16
    /// Rounded to IEEE fp16 where stored otherwise (values past 65504 are refused).
    case f16

    /// The format float linear weights are put into when the checkpoint stores
    /// its linear weights as `kind` (nil when not known): nil means dense fp32.
    public func format(storing kind: StoredKind?) -> QuantFormat? {
        switch self {
        case .f32: nil
        case .bf16: .bf16
        case .f16: .f16
        case .stored: kind == .bf16 ? .bf16 : kind == .f16 ? .f16 : nil
        }
    }

    /// The one float type (f32, f16 or bf16) that every float matrix of `file` is
    /// stored in, or nil when they mix types or there are none: what ``stored``
    /// keeps. By contents, not names, so fused tensors (Phi-3's qkv_proj) and GGUF
    /// files count alike; a quantized file's packed tensors are not float.
    public static func storedKind(of file: any TensorFile) -> StoredKind? {
        let kinds = Set(file.tensorsByName.values.lazy.filter { $0.shape.count == 2 && [.f32, .f16, .bf16].contains($0.kind) }.map(\.kind))
        return kinds.count == 1 ? kinds.first : nil
    }

    /// Parses `stored`, `f32`, `bf16`, `f16`.
    public init(option text: String) throws(SlimError) {
        guard let w = FloatWeights(rawValue: text.lowercased()) else {
            throw .invalidArgument("--weights '\(text)': expected one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = w
    }
}
