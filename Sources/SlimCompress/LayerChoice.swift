import SlimCore
import SlimModel

/// One way the auto search may store one weight, and what it costs.
public enum LayerChoice: Hashable, Sendable, CustomStringConvertible {
    case fp32
    /// Decoders: kept float in the source's element type (bf16 stays bf16), as the layer-wise pipeline writes it.
    case float(StoredKind)
    /// GPTQ for linear layers, round-to-nearest for tables (no Hessian of a lookup).
    case quantized(QuantFormat)
    /// 2:4 Wanda. Slim stores pruned weights dense in fp32, so this costs the
    /// fp32 bytes with more error: fp32 always beats it, and it is measured
    /// only so that the card shows what it would cost.
    case sparse24
    /// Truncated-SVD factors, stored in fp32 (as `slim lowrank` stores them).
    case lowRank(rank: Int)

    public var description: String {
        switch self {
        case .fp32: "fp32"
        case let .float(kind): "float (\(kind.rawValue))"
        case let .quantized(f): f.description
        case .sparse24: "2:4"
        case let .lowRank(r): "rank \(r)"
        }
    }

    /// The format the folder records for the layer in `quantization_config.layers` (nil: none).
    public var format: QuantFormat? { if case let .quantized(f) = self { f } else { nil } }
}

/// A layer's choice with its measured cost.
public struct MeasuredChoice: Sendable {
    public let choice: LayerChoice
    /// The whole model's output error when this layer alone is stored so (``AutoSearch/errorMeasure``): for encoders
    /// 1 − mean cosine of the sentence embeddings to the original's, for decoders the mean KL divergence of the next token.
    public let error: Double
    /// What the layer's tensors take in the written file (packed data, scales, zero points; factors).
    public let bytes: Int
}

/// Every choice measured for one weight.
public struct LayerCosts: Sendable {
    public let name: String
    public let options: [MeasuredChoice]
}

/// The candidates the auto search weighs.
enum AutoCandidates {
    /// int8 per channel, int4 groups of 128 and 32 (symmetric, as `slim compress` defaults to).
    static let formats: [QuantFormat] = [.int8PerChannel, .int4(groupSize: 128, symmetric: true), .int4(groupSize: 32, symmetric: true)]
    /// Factors keeping a quarter of the parameters: in fp32 that is about one
    /// byte per weight, int8's size, the largest keep fraction that saves bytes over int8.
    static let lowRankKeep = 0.25

    /// The packed bytes of `w` in `format` as the folder stores them (data, fp32 scales, u8 zeros).
    static func packedBytes(_ e: QuantCodec.Encoded) -> Int { e.data.count + 4 * e.scales.count + e.zeros.count }
}
