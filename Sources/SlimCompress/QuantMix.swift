import SlimCore
import SlimModel

/// A per-tensor format plan named after llama.cpp's file types: a base format
/// with some tensors in a wider one, as `llama_tensor_get_type` in
/// llama.cpp's `src/llama-quant.cpp` chooses them.
public enum QuantMix: String, Sendable, CaseIterable {
    /// Q4_K_M: Q4_K, with Q6_K for the output projection (the token table when
    /// tied, as llama.cpp treats it) and for the `attn_v` and `ffn_down` of the
    /// layers `usesMoreBits` picks, about half of them. (llama.cpp's Falcon and
    /// eight-expert rules and fused QKV's Q5_K do not apply to Slim's families.)
    case q4KM = "q4_k_m"

    public var base: QuantFormat { .q4_K }

    /// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third one between.
    public static func usesMoreBits(_ layer: Int, of layers: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }

    /// The exceptions to `base`, by Hugging Face weight name, for a decoder of `layers` blocks.
    /// Each is then fitted to its K like any format (Q6_K falls back to Q8_0 where K is not whole super-blocks).
    public func formats(layers: Int, tiedEmbeddings: Bool) -> [String: QuantFormat?] {
        let names = DecoderTensorNames.huggingFace
        var plan: [String: QuantFormat?] = [(tiedEmbeddings ? names.tokenEmbedding : names.output) + ".weight": .q6_K]
        for i in 0..<layers where Self.usesMoreBits(i, of: layers) {
            plan[names.block(i, .value) + ".weight"] = .q6_K
            plan[names.block(i, .down) + ".weight"] = .q6_K
        }
        return plan
    }
}
