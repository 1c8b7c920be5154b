import SlimCore

/// What sets one decoder family apart from Llama, as data: every family runs
/// the same pre-norm block (``DecoderBlock``) and the same compression
/// pipeline, and differs only in these switches. Each is what the
/// `transformers` modeling file of that family does.
public struct DecoderArchitecture: Sendable, Equatable {
    public enum Family: String, Sendable, CaseIterable {
        case llama, mistral, qwen2, qwen3, gemma, phi3

        /// The `architectures` entry `transformers` writes for it.
        public var causalLMClass: String {
            switch self {
            case .llama: "LlamaForCausalLM"
            case .mistral: "MistralForCausalLM"
            case .qwen2: "Qwen2ForCausalLM"
            case .qwen3: "Qwen3ForCausalLM"
            case .gemma: "GemmaForCausalLM"
            case .phi3: "Phi3ForCausalLM"
            }
        }
    }

    public let family: Family
    /// Q, K and V carry biases (Qwen2 always; Llama and Qwen3 with `attention_bias`).
    public var queryKeyValueBias: Bool
    /// The attention output projection carries one (Llama and Qwen3 `attention_bias`).
    public var attentionOutputBias: Bool
    /// gate, up and down carry biases (Llama `mlp_bias`).
    public var mlpBias: Bool
    /// Per-head RMSNorm of the queries and keys before the rotary embedding (Qwen3).
    public var queryKeyNorm: Bool
    /// RMSNorm multiplies by `offset + w` (Gemma stores w around 0 and uses 1 + w).
    public var normOffset: Float
    /// The MLP's gate nonlinearity: SiLU, or GELU's tanh form (Gemma).
    public var gate: GateActivation
    /// Token embeddings are multiplied by √hidden (Gemma).
    public var scalesEmbeddings: Bool
    /// Q, K and V are one `qkv_proj`, gate and up one `gate_up_proj` (Phi-3);
    /// ``FusedWeightStore`` presents them as the separate weights of Llama.
    public var fusedProjections: Bool

    public init(family: Family, queryKeyValueBias: Bool = false, attentionOutputBias: Bool = false, mlpBias: Bool = false) {
        self.family = family
        self.queryKeyValueBias = queryKeyValueBias || family == .qwen2
        self.attentionOutputBias = attentionOutputBias
        self.mlpBias = mlpBias
        queryKeyNorm = family == .qwen3
        normOffset = family == .gemma ? 1 : 0
        gate = family == .gemma ? .geluTanh : .silu
        scalesEmbeddings = family == .gemma
        fusedProjections = family == .phi3
    }

    public static let llama = DecoderArchitecture(family: .llama)
}
