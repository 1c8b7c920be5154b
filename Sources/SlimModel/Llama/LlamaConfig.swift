import Foundation
import SlimCore

/// The hyper-parameters of a Llama-architecture decoder (SmolLM2, Llama 2/3, …).
public struct LlamaConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var intermediateSize: Int
    public var contextLength: Int
    public var ropeBase: Float
    public var rotaryDim: Int
    public var rmsEpsilon: Float

    public var headDim: Int { hiddenSize / heads }
    public var kvDim: Int { kvHeads * headDim }

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
        rotaryDim = try int("rope.dimension_count", default: heads > 0 ? hiddenSize / heads : 0)
        try validate(origin: gguf.path, keys: .gguf(vocabFromTokens: gguf.metadata["llama.vocab_size"] == nil))
    }

    /// How a file names each hyper-parameter, so an error names the key the user can fix.
    struct Keys {
        var vocab, hidden, layers, heads, kvHeads, intermediate, context, ropeBase, rmsEpsilon, rotaryDim: String

        static func gguf(vocabFromTokens: Bool) -> Keys {
            Keys(vocab: vocabFromTokens ? "tokenizer.ggml.tokens" : "llama.vocab_size", hidden: "llama.embedding_length",
                 layers: "llama.block_count", heads: "llama.attention.head_count", kvHeads: "llama.attention.head_count_kv",
                 intermediate: "llama.feed_forward_length", context: "llama.context_length", ropeBase: "llama.rope.freq_base",
                 rmsEpsilon: "llama.attention.layer_norm_rms_epsilon", rotaryDim: "llama.rope.dimension_count")
        }

        static let huggingFace = Keys(vocab: "vocab_size", hidden: "hidden_size", layers: "num_hidden_layers",
                                      heads: "num_attention_heads", kvHeads: "num_key_value_heads", intermediate: "intermediate_size",
                                      context: "max_position_embeddings", ropeBase: "rope_theta", rmsEpsilon: "rms_norm_eps",
                                      rotaryDim: "head_dim")
    }

    func validate(origin: String, keys: Keys) throws {
        let check = ConfigCheck(path: origin)
        for (value, key) in [(vocabSize, keys.vocab), (hiddenSize, keys.hidden), (layers, keys.layers), (heads, keys.heads),
                             (kvHeads, keys.kvHeads), (intermediateSize, keys.intermediate), (contextLength, keys.context),
                             (rotaryDim, keys.rotaryDim)] {
            try check.positive(value, key)
        }
        try check.divides(heads, keys.heads, hiddenSize, keys.hidden)
        try check.divides(kvHeads, keys.kvHeads, heads, keys.heads)
        guard rotaryDim <= headDim, rotaryDim % 2 == 0 else {
            throw check.bad(keys.rotaryDim, "is \(rotaryDim); rotary features come in pairs, at most the head width \(headDim)")
        }
        try check.positiveFinite(ropeBase, keys.ropeBase)
        try check.positiveFinite(rmsEpsilon, keys.rmsEpsilon)
    }
}

extension LlamaConfig {
    /// Reads a Hugging Face `config.json` of `model_type` "llama".
    public init(huggingFace url: URL) throws {
        let o = try JSONFile.object(at: url)
        guard o["model_type"] as? String == "llama" else {
            throw SlimError.unsupported(op: "load \(url.path)", backend: "model",
                                        reason: "model_type '\(o["model_type"] as? String ?? "none")' is not a Llama decoder")
        }
        if let scaling = o["rope_scaling"], !(scaling is NSNull) {
            throw SlimError.unsupported(op: "load \(url.path)", backend: "model", reason: "rope_scaling \(scaling) is not implemented")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int { try JSONFile.int(o, key, file: url, default: value) }
        hiddenSize = try int("hidden_size")
        layers = try int("num_hidden_layers")
        heads = try int("num_attention_heads")
        kvHeads = try int("num_key_value_heads", default: heads)
        intermediateSize = try int("intermediate_size")
        contextLength = try int("max_position_embeddings", default: 2048)
        vocabSize = try int("vocab_size")
        ropeBase = Float(try JSONFile.double(o, "rope_theta", file: url, default: 10000))
        rmsEpsilon = Float(try JSONFile.double(o, "rms_norm_eps", file: url, default: 1e-6))
        rotaryDim = try int("head_dim", default: heads > 0 ? hiddenSize / heads : 0)
        try validate(origin: url.path, keys: .huggingFace)
    }

    /// The Hugging Face `config.json` keys of this configuration.
    public var huggingFace: [String: Any] {
        ["model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": hiddenSize, "num_hidden_layers": layers,
         "num_attention_heads": heads, "num_key_value_heads": kvHeads, "intermediate_size": intermediateSize,
         "max_position_embeddings": contextLength, "vocab_size": vocabSize, "rope_theta": Double(ropeBase),
         "rms_norm_eps": Double(rmsEpsilon), "head_dim": headDim, "hidden_act": "silu", "torch_dtype": "float32"]
    }
}
