import Foundation
import SlimCore

extension DecoderConfig {
    /// Reads a Hugging Face `config.json` of any family in ``DecoderArchitecture/Family``,
    /// with the defaults of that family's `transformers` configuration class.
    /// Both spellings of the rotary settings are read: `rope_theta` and
    /// `rope_scaling` (transformers 4) and `rope_parameters` (transformers 5).
    /// What Slim does not run (LongRoPE, YaRN, logit soft-capping, another
    /// activation) is refused by its key, never run differently.
    public init(huggingFace url: URL) throws {
        let o = try JSONFile.object(at: url)
        let check = ConfigCheck(path: url.path)
        let type = o["model_type"] as? String ?? "none"
        guard let family = DecoderArchitecture.Family(rawValue: type) else {
            throw check.bad("model_type", "is '\(type)'; Slim runs the decoder families \(DecoderArchitecture.Family.allCases.map(\.rawValue).joined(separator: ", ")) (and BERT encoders)")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int { try JSONFile.int(o, key, file: url, default: value) }
        func double(_ key: String, default value: Double? = nil) throws -> Double { try JSONFile.double(o, key, file: url, default: value) }
        func flag(_ key: String, default value: Bool) throws -> Bool {
            guard let found = o[key], !(found is NSNull) else { return value }
            guard let b = found as? Bool else { throw check.bad(key, "is \(found), not true or false") }
            return b
        }
        func absent(_ key: String, _ why: String) throws {
            if let found = o[key], !(found is NSNull) { throw check.bad(key, "is \(found); \(why)") }
        }

        let bias = try flag("attention_bias", default: false)
        architecture = DecoderArchitecture(family: family, queryKeyValueBias: bias && family != .qwen2,
                                           attentionOutputBias: bias && family != .qwen2, mlpBias: try flag("mlp_bias", default: false))
        let activation = (o["hidden_activation"] as? String) ?? (o["hidden_act"] as? String) ?? (family == .gemma ? "gelu_pytorch_tanh" : "silu")
        let expected: Set<String> = family == .gemma ? ["gelu_pytorch_tanh", "gelu", "gelu_tanh"] : ["silu", "swish"]
        guard expected.contains(activation) else {
            throw check.bad(o["hidden_activation"] != nil ? "hidden_activation" : "hidden_act",
                            "is '\(activation)'; a \(type) MLP in Slim uses \(expected.sorted().joined(separator: " or "))")
        }
        try absent("attn_logit_softcapping", "soft-capped attention logits are Gemma 2's, which Slim does not run")
        try absent("final_logit_softcapping", "soft-capped output logits are Gemma 2's, which Slim does not run")

        hiddenSize = try int("hidden_size")
        layers = try int("num_hidden_layers")
        heads = try int("num_attention_heads")
        kvHeads = try int("num_key_value_heads", default: heads)
        intermediateSize = try int("intermediate_size")
        vocabSize = try int("vocab_size")
        let defaultHeadDim: Int? = switch family {
        case .gemma: 256
        case .qwen3: 128
        default: nil
        }
        if o["head_dim"] == nil || o["head_dim"] is NSNull, defaultHeadDim == nil, heads > 0 {
            try check.divides(heads, "num_attention_heads", hiddenSize, "hidden_size")
        }
        headDim = o["head_dim"] is NSNull ? hiddenSize / max(heads, 1)
            : try int("head_dim", default: defaultHeadDim ?? hiddenSize / max(heads, 1))
        rmsEpsilon = Float(try double("rms_norm_eps", default: family == .phi3 ? 1e-5 : 1e-6))
        tiedEmbeddings = try flag("tie_word_embeddings", default: family == .gemma)

        let rope = try RopeSettings(config: o, file: url)
        ropeBase = Float(rope.theta)
        ropeScaling = rope.scaling
        rotaryDim = Int(Double(headDim) * rope.partialFactor)
        var context = try int("max_position_embeddings", default: 2048)
        // A sliding window is active in Mistral when set, in Qwen2 only with use_sliding_window.
        let windowed = family == .qwen2 || family == .qwen3 ? try flag("use_sliding_window", default: false) : true
        let window = o["sliding_window"] == nil && family == .mistral ? 4096 : (o["sliding_window"] as? NSNumber)?.intValue
        if windowed, let window, window > 0 { context = min(context, window) }
        contextLength = context
        try validate(origin: url.path, keys: .huggingFace)
        try check.positiveFinite(ropeBase, "rope_theta", given: rope.theta)
    }

    /// The Hugging Face `config.json` keys of this configuration (transformers 4 spelling, which 5 reads too).
    public var huggingFace: [String: Any] {
        var o: [String: Any] = [
            "model_type": architecture.family.rawValue, "architectures": [architecture.family.causalLMClass],
            "hidden_size": hiddenSize, "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kvHeads,
            "head_dim": headDim, "intermediate_size": intermediateSize, "max_position_embeddings": contextLength,
            "vocab_size": vocabSize, "rope_theta": Double(ropeBase), "rms_norm_eps": Double(rmsEpsilon),
            "hidden_act": architecture.gate == .geluTanh ? "gelu_pytorch_tanh" : "silu", "tie_word_embeddings": tiedEmbeddings,
            "torch_dtype": "float32",
        ]
        if rotaryDim != headDim { o["partial_rotary_factor"] = Double(rotaryDim) / Double(headDim) }
        if architecture.family != .qwen2, architecture.queryKeyValueBias { o["attention_bias"] = true }
        if architecture.mlpBias { o["mlp_bias"] = true }
        switch ropeScaling {
        case nil: break
        case let .linear(factor): o["rope_scaling"] = ["rope_type": "linear", "factor": Double(factor)]
        case let .llama3(factor, low, high, original):
            o["rope_scaling"] = ["rope_type": "llama3", "factor": Double(factor), "low_freq_factor": Double(low),
                                 "high_freq_factor": Double(high), "original_max_position_embeddings": original]
        }
        return o
    }
}

/// The rotary settings of a `config.json`, in either transformers spelling.
struct RopeSettings {
    var theta: Double
    var scaling: RopeScaling?
    var partialFactor: Double

    init(config o: [String: Any], file: URL) throws {
        let check = ConfigCheck(path: file.path)
        // transformers 5 writes rope_parameters (with rope_theta inside); 4 writes rope_scaling beside rope_theta.
        let key = (o["rope_parameters"].map { !($0 is NSNull) } ?? false) ? "rope_parameters" : "rope_scaling"
        var parameters: [String: Any] = [:]
        if let found = o[key], !(found is NSNull) {
            guard let dictionary = found as? [String: Any] else { throw check.bad(key, "is \(found), not an object") }
            parameters = dictionary
        }
        func number(_ name: String, in object: [String: Any], path: String) throws -> Double? {
            guard let found = object[name], !(found is NSNull) else { return nil }
            guard let n = found as? NSNumber, n.doubleValue.isFinite else { throw check.bad(path, "is \(found), not a finite number") }
            return n.doubleValue
        }
        theta = try number("rope_theta", in: parameters, path: "\(key).rope_theta") ?? number("rope_theta", in: o, path: "rope_theta") ?? 10000
        partialFactor = try number("partial_rotary_factor", in: parameters, path: "\(key).partial_rotary_factor")
            ?? number("partial_rotary_factor", in: o, path: "partial_rotary_factor") ?? 1
        guard partialFactor > 0, partialFactor <= 1 else { throw check.bad("partial_rotary_factor", "is \(partialFactor); it must be in (0, 1]") }
        let type = (parameters["rope_type"] ?? parameters["type"]) as? String ?? "default"
        func required(_ name: String) throws -> Double {
            guard let v = try number(name, in: parameters, path: "\(key).\(name)") else { throw check.bad("\(key).\(name)", "is missing (rope type '\(type)' needs it)") }
            return v
        }
        switch type {
        case "default":
            scaling = nil
        case "linear":
            let factor = try required("factor")
            guard factor >= 1 else { throw check.bad("\(key).factor", "is \(factor); a linear rope scaling factor is at least 1") }
            scaling = .linear(factor: Float(factor))
        case "llama3":
            let factor = try required("factor"), low = try required("low_freq_factor"), high = try required("high_freq_factor")
            let original = try required("original_max_position_embeddings")
            guard factor >= 1, low > 0, high > low, original >= 1, original == original.rounded() else {
                throw check.bad(key, "llama3 needs factor ≥ 1, 0 < low_freq_factor < high_freq_factor and a whole original_max_position_embeddings; got \(factor), \(low), \(high), \(original)")
            }
            scaling = .llama3(factor: Float(factor), lowFrequencyFactor: Float(low), highFrequencyFactor: Float(high), originalContext: Int(original))
        default:
            throw check.bad("\(key).rope_type", "is '\(type)'; Slim runs rotary embeddings of type default, linear and llama3 (not LongRoPE, YaRN, dynamic NTK)")
        }
    }
}
