import Foundation
import SlimCore

/// The hyper-parameters of a pre-norm decoder of any family Slim runs
/// (``DecoderArchitecture``): Llama 2/3, Mistral, Qwen2/3, Gemma, Phi-3, SmolLM2.
public struct DecoderConfig: Sendable, Equatable {
    public var architecture = DecoderArchitecture.llama
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    /// Features per head; `hidden / heads` unless the config decouples it (`head_dim`).
    public var headDim: Int
    public var intermediateSize: Int
    /// Positions the model takes: its trained context, or its sliding window when that is shorter
    /// (Slim's causal attention has no token-wise window, so it stops where the window would start).
    public var contextLength: Int
    public var ropeBase: Float
    /// Features of each head the rotary embedding turns (`partial_rotary_factor` × headDim).
    public var rotaryDim: Int
    public var ropeScaling: RopeScaling?
    public var rmsEpsilon: Float
    /// The output projection is the token table (`tie_word_embeddings`).
    public var tiedEmbeddings = false

    public var queryDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    /// The inverse frequencies of the rotary embedding as the checkpoint's own
    /// engine computes them: `transformers`' fp32 formula for a Hugging Face
    /// folder, llama.cpp's (close to the correctly rounded powers) for GGUF.
    public func inverseFrequencies(for names: DecoderTensorNames) -> [Float] {
        names == .gguf ? ropeFrequencies(base: ropeBase, rotaryDim: rotaryDim)
            : RotaryFrequencies.inverse(base: ropeBase, rotaryDim: rotaryDim, scaling: ropeScaling)
    }

    /// Reads the `llama.*` keys of a GGUF file; the vocabulary size falls back to the token list.
    public init(gguf: GGUFFile) throws {
        guard gguf.architecture == "llama" else {
            throw SlimError.unsupported(op: "load \(gguf.path)", backend: "model",
                                        reason: "GGUF architecture '\(gguf.architecture ?? "none")'; Slim runs llama (and BERT from safetensors)")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            let found = gguf.metadata["llama." + key]
            if let v = found?.int { return v }
            if found == nil, let value { return value }
            throw SlimError.invalidConfig(path: gguf.path, key: "llama." + key,
                                          detail: found.map { "is \($0), not an integer that fits 64 bits" } ?? "is missing")
        }
        func float(_ key: String, default value: Double) throws -> Float {
            guard let found = gguf.metadata["llama." + key] else { return Float(value) }
            guard let v = found.double else { throw SlimError.invalidConfig(path: gguf.path, key: "llama." + key, detail: "is \(found), not a number") }
            return Float(v)
        }
        hiddenSize = try int("embedding_length")
        layers = try int("block_count")
        heads = try int("attention.head_count")
        kvHeads = try int("attention.head_count_kv", default: heads)
        intermediateSize = try int("feed_forward_length")
        contextLength = try int("context_length", default: 2048)
        let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array?.count
        vocabSize = try int("vocab_size", default: tokens ?? -1)
        ropeBase = try float("rope.freq_base", default: 10000)
        rmsEpsilon = try float("attention.layer_norm_rms_epsilon", default: 1e-5)
        if gguf.metadata["llama.attention.key_length"] == nil, heads > 0 {
            try ConfigCheck(path: gguf.path).divides(heads, "llama.attention.head_count", hiddenSize, "llama.embedding_length")
        }
        headDim = try int("attention.key_length", default: heads > 0 ? hiddenSize / heads : 0)
        rotaryDim = try int("rope.dimension_count", default: headDim)
        tiedEmbeddings = !gguf.tensors.contains { $0.name == "output.weight" }
        try validate(origin: gguf.path, keys: .gguf(vocabFromTokens: gguf.metadata["llama.vocab_size"] == nil))
    }

    /// How a file names each hyper-parameter, so an error names the key the user can fix.
    struct Keys {
        var vocab, hidden, layers, heads, kvHeads, headDim, intermediate, context, ropeBase, rmsEpsilon, rotaryDim: String

        static func gguf(vocabFromTokens: Bool) -> Keys {
            Keys(vocab: vocabFromTokens ? "tokenizer.ggml.tokens" : "llama.vocab_size", hidden: "llama.embedding_length",
                 layers: "llama.block_count", heads: "llama.attention.head_count", kvHeads: "llama.attention.head_count_kv",
                 headDim: "llama.attention.key_length",
                 intermediate: "llama.feed_forward_length", context: "llama.context_length", ropeBase: "llama.rope.freq_base",
                 rmsEpsilon: "llama.attention.layer_norm_rms_epsilon", rotaryDim: "llama.rope.dimension_count")
        }

        static let huggingFace = Keys(vocab: "vocab_size", hidden: "hidden_size", layers: "num_hidden_layers",
                                      heads: "num_attention_heads", kvHeads: "num_key_value_heads", headDim: "head_dim",
                                      intermediate: "intermediate_size", context: "max_position_embeddings", ropeBase: "rope_theta",
                                      rmsEpsilon: "rms_norm_eps", rotaryDim: "head_dim")
    }

    func validate(origin: String, keys: Keys) throws {
        let check = ConfigCheck(path: origin)
        for (value, key) in [(vocabSize, keys.vocab), (hiddenSize, keys.hidden), (layers, keys.layers), (heads, keys.heads),
                             (kvHeads, keys.kvHeads), (headDim, keys.headDim), (intermediateSize, keys.intermediate),
                             (contextLength, keys.context), (rotaryDim, keys.rotaryDim)] {
            try check.positive(value, key)
        }
        try check.divides(kvHeads, keys.kvHeads, heads, keys.heads)
        guard rotaryDim <= headDim, rotaryDim % 2 == 0 else {
            throw check.bad(keys.rotaryDim, "is \(rotaryDim); rotary features come in pairs, at most the head width \(headDim)")
        }
        try check.positiveFinite(ropeBase, keys.ropeBase)
        try check.positiveFinite(rmsEpsilon, keys.rmsEpsilon)
    }
}

