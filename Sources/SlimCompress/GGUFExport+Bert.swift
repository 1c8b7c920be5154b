import Foundation
import SlimCore
import SlimModel

/// BERT encoders (sentence-transformers folders) as llama.cpp's `bert`
/// architecture: its tensor names, `bert.*` keys with the pooling the folder's
/// `1_Pooling` says, and the WordPiece vocabulary in the "phantom space" form
/// llama.cpp's converter writes (`conversion/bert.py`): a word-initial token
/// gets "▁" in front, a `##` continuation loses its `##`, control tokens stay.
extension GGUFExport {
    func encoder(_ folder: URL) throws -> (String, [GGUFMetadataEntry], GGUFTensorSource) {
        guard case let .bert(c) = try ModelConfig.load(folder.appendingPathComponent("config.json")) else {
            throw SlimError.unsupported(op: "write \(folder.path) to GGUF", backend: "model", reason: "not a BERT encoder")
        }
        guard c.prunedHeads.isEmpty, c.intermediateSizes == nil else {
            throw SlimError.unsupported(op: "write \(folder.path) to GGUF", backend: "model",
                                        reason: "its layers were pruned to different widths, and llama.cpp's bert takes one head count and one MLP width for every layer")
        }
        var source = try GGUFTensorSource(folder: folder)
        let prefix = source.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        func add(_ name: String, _ ggufName: String, float32: Bool = false) throws {
            for suffix in ["weight", "bias"] where source.contains(prefix + name + "." + suffix) {
                try source.add(prefix + name + "." + suffix, as: ggufName + "." + suffix, float32: float32)
            }
        }
        try add("embeddings.word_embeddings", "token_embd")
        // llama.cpp's converter keeps position and token-type tables in F32.
        try add("embeddings.position_embeddings", "position_embd", float32: true)
        try add("embeddings.token_type_embeddings", "token_types", float32: true)
        try add("embeddings.LayerNorm", "token_embd_norm", float32: true)
        for i in 0..<c.layers {
            let p = "encoder.layer.\(i).", b = "blk.\(i)."
            try add(p + "attention.self.query", b + "attn_q")
            try add(p + "attention.self.key", b + "attn_k")
            try add(p + "attention.self.value", b + "attn_v")
            try add(p + "attention.output.dense", b + "attn_output")
            try add(p + "attention.output.LayerNorm", b + "attn_output_norm", float32: true)
            try add(p + "intermediate.dense", b + "ffn_up")
            try add(p + "output.dense", b + "ffn_down")
            try add(p + "output.LayerNorm", b + "layer_output_norm", float32: true)
        }
        // The pooler is not part of a sentence embedding (llama.cpp's converter drops it too).
        try source.skip(["pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"].map { prefix + $0 })

        let keys = DecoderGGUFKeys(arch: "bert")
        var m = try general(folder, arch: "bert", formats: source.formats)
        let pooling: Int = switch try Pooling.load(folder: folder) {
        case .mean: 1
        case .cls: 2
        case .max:
            throw SlimError.unsupported(op: "write \(folder.path) to GGUF", backend: "model", reason: "max pooling, which llama.cpp does not have (it pools by mean, CLS or last token)")
        }
        m += [
            keys.u32("context_length", c.maxPositions), keys.u32("embedding_length", c.hiddenSize), keys.u32("block_count", c.layers),
            keys.u32("feed_forward_length", c.intermediateSize), keys.u32("attention.head_count", c.heads),
            keys.f32("attention.layer_norm_epsilon", c.layerNormEpsilon), .bool("bert.attention.causal", false),
            keys.u32("pooling_type", pooling),
        ]
        m += try wordPieceMetadata(folder, typeCount: c.typeVocabSize)
        return ("bert", m, source)
    }

    private func wordPieceMetadata(_ folder: URL, typeCount: Int) throws -> [GGUFMetadataEntry] {
        let t = try WordPieceTokenizer(modelFolder: folder)
        let control = Set(t.addedTokens.map(\.id) + [t.unknownID, t.clsID, t.sepID, t.padID])
        let tokens = t.vocabulary.tokens.enumerated().map { id, token in
            control.contains(Int32(id)) ? token : token.hasPrefix("##") ? String(token.dropFirst(2)) : "\u{2581}" + token
        }
        let types = t.vocabulary.tokens.indices.map { control.contains(Int32($0)) ? BPETokenizer.TokenKind.control.rawValue : BPETokenizer.TokenKind.normal.rawValue }
        var m: [GGUFMetadataEntry] = [
            .string("tokenizer.ggml.model", "bert"), .uint32("tokenizer.ggml.token_type_count", typeCount),
            .strings("tokenizer.ggml.tokens", tokens), .int32s("tokenizer.ggml.token_type", types),
            .uint32("tokenizer.ggml.unknown_token_id", Int(t.unknownID)), .uint32("tokenizer.ggml.seperator_token_id", Int(t.sepID)),
            .uint32("tokenizer.ggml.padding_token_id", Int(t.padID)), .uint32("tokenizer.ggml.cls_token_id", Int(t.clsID)),
            // [CLS] starts and [SEP] ends every input, as the BERT tokenizer adds them.
            .uint32("tokenizer.ggml.bos_token_id", Int(t.clsID)),
        ]
        if let mask = t.vocabulary.tokens.firstIndex(of: "[MASK]") { m.append(.uint32("tokenizer.ggml.mask_token_id", mask)) }
        return m
    }
}

extension GGUFTensorSource {
    /// Marks tensors llama.cpp has no use for as dealt with (absent ones are fine).
    mutating func skip(_ names: [String]) throws {
        try take(names.flatMap { [$0, PackedNames.data($0), PackedNames.scales($0), PackedNames.zeros($0)] })
    }
}
