@testable import SlimCompress
import SlimCore
import Testing

/// `--quant q4_k_m`: llama.cpp's Q4_K_M plan (src/llama-quant.cpp), written out by hand for 30 layers.
@Suite struct QuantMixTests {
    @Test func q4KMPicksLlamaCppsLayers() {
        // use_more_bits(i, 30): i < 3, i ≥ 26, or (i − 3) % 3 == 2.
        let more = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]
        #expect((0..<30).filter { QuantMix.usesMoreBits($0, of: 30) } == more)
        let tied = QuantMix.q4KM.formats(layers: 30, tiedEmbeddings: true)
        var expected: [String: QuantFormat?] = ["model.embed_tokens.weight": .q6_K]
        for i in more {
            expected["model.layers.\(i).self_attn.v_proj.weight"] = .q6_K
            expected["model.layers.\(i).mlp.down_proj.weight"] = .q6_K
        }
        #expect(tied == expected)
        let untied = QuantMix.q4KM.formats(layers: 30, tiedEmbeddings: false)
        #expect(untied["lm_head.weight"] == .some(.q6_K) && untied["model.embed_tokens.weight"] == nil)
        #expect(QuantMix.q4KM.base == .q4_K)
    }

    /// K-quants where K is not whole super-blocks fall back as llama.cpp's `tensor_type_fallback` does (Q6_K → Q8_0; Q4_K → Q5_0).
    @Test func kQuantsFallBackWhereKIsNotWholeSuperBlocks() {
        #expect(QuantFormat.q6_K.fitting(columns: 576) == .q8_0)
        #expect(QuantFormat.q4_K.fitting(columns: 576) == .q5_0)
        #expect(QuantFormat.q4_K.fitting(columns: 1536) == .q4_K)
        #expect(QuantFormat.q4_K.fitting(columns: 300) == .int8PerChannel)
    }
}
