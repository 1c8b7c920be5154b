import Foundation
import SlimCore
import SlimModel

/// Writes a Slim folder (a decoder of any family or a BERT encoder,
/// compressed by Slim or float) as one GGUF file that llama.cpp and Ollama
/// load: the architecture's keys, the tokenizer, and every tensor under
/// llama.cpp's name, packed weights as their blocks (never decoded), floats as
/// F16 (matrices) or F32 (vectors, norms), as llama.cpp's converter writes
/// them. The model card's facts become `general.*` and `slim.*` keys, since a
/// card file cannot sit inside a .gguf.
///
/// What llama.cpp expects was read from its `convert_hf_to_gguf.py`,
/// `gguf-py/gguf/constants.py` and `src/models/*.cpp`.
public struct GGUFExport {
    /// A GGUF file whose `tokenizer.*` keys are copied as they are stored (the
    /// source of a compression that started from a GGUF file); otherwise the
    /// tokenizer is built from the folder's tokenizer files.
    public var tokenizerSource: GGUFFile?

    public init(tokenizerSource: GGUFFile? = nil) { self.tokenizerSource = tokenizerSource }

    public struct Report: Sendable {
        public let architecture: String
        public let tensors: Int
        public let fileBytes: Int
        /// Packed tensors by format, and float tensors by F16/F32.
        public let kinds: [String: Int]
    }

    /// Claims `output`, writes it staged, and renames it into place.
    public func export(_ folder: URL, to output: URL, overwrite: Bool) throws -> Report {
        let claim = try GGUFOutput.claim(output, inputs: [folder] + (tokenizerSource.map { [$0.url] } ?? []), overwrite: overwrite)
        defer { claim.release() }
        return try GGUFOutput.write(to: output) { scratch in try write(folder, to: scratch) }
    }

    /// Writes the GGUF file at `url` as it is (no claim, no staging: ``export(_:to:overwrite:)`` does both).
    public func write(_ folder: URL, to url: URL) throws -> Report {
        let (architecture, metadata, source) = try ModelFamily(path: folder) == .decoder ? try decoder(folder) : try encoder(folder)
        try source.checkAllTaken()
        let written = try GGUFWriter.write(to: url, metadata: metadata, tensors: source.plans) { i, _ in try source.readers[i]() }
        let kinds = Dictionary(grouping: source.plans, by: { $0.kind.rawValue.uppercased() }).mapValues(\.count)
        return Report(architecture: architecture, tensors: source.plans.count, fileBytes: written.fileBytes, kinds: kinds)
    }

    // MARK: Decoders

    /// llama.cpp's architecture for each family: Mistral runs as llama (its converter maps MistralForCausalLM there).
    static func architecture(_ family: DecoderArchitecture.Family) -> String {
        switch family {
        case .llama, .mistral: "llama"
        case .qwen2: "qwen2"
        case .qwen3: "qwen3"
        case .gemma: "gemma"
        case .phi3: "phi3"
        }
    }

    private func decoder(_ folder: URL) throws -> (String, [GGUFMetadataEntry], GGUFTensorSource) {
        let c = try DecoderConfig(huggingFace: folder.appendingPathComponent("config.json"))
        let family = c.architecture.family, arch = Self.architecture(family)
        var source = try GGUFTensorSource(folder: folder)
        let hf = DecoderTensorNames.huggingFace, gguf = DecoderTensorNames.gguf
        // llama.cpp's llama graph rotates adjacent pairs: queries and keys go out interleaved (LlamaModel.permute).
        let interleave = arch == "llama"
        // Gemma's RMSNorm multiplies by 1 + w; llama.cpp's gemma graph by the stored weight (its converter adds 1).
        let norm: ((Float) -> Float)? = c.architecture.normOffset != 0 ? { [offset = c.architecture.normOffset] in $0 + offset } : nil

        source.add(try c.ropeScaling.flatMap { try ropeFactors(c, $0) }.map { ($0, [$0.count]) }, as: "rope_freqs.weight")
        try source.add(hf.tokenEmbedding + ".weight", as: gguf.tokenEmbedding + ".weight")
        for i in 0..<c.layers {
            func part(_ p: DecoderTensorNames.Part, _ suffix: String = "weight", heads: Int? = nil) throws {
                let name = hf.block(i, p) + "." + suffix
                guard source.contains(name) else { return }
                let isNorm = [.attentionNorm, .ffnNorm, .queryNorm, .keyNorm].contains(p)
                let reorder: ((Data, Int) -> Data)? = heads.map { h in { DecoderTensorNames.interleaveRows($0, rows: $1, heads: h) } }
                try source.add(name, as: gguf.block(i, p) + "." + suffix, float32: isNorm || suffix == "bias", rows: reorder,
                               values: isNorm && p != .queryNorm && p != .keyNorm ? norm : nil)
            }
            try part(.attentionNorm)
            if c.architecture.fusedProjections {
                // Phi-3: llama.cpp's phi3 takes the fused qkv as attn_qkv and gate_up (gate rows first) as ffn_up.
                try source.add("model.layers.\(i).self_attn.qkv_proj.weight", as: "blk.\(i).attn_qkv.weight")
                try source.add("model.layers.\(i).mlp.gate_up_proj.weight", as: gguf.block(i, .up) + ".weight")
            } else {
                for (p, heads) in [(DecoderTensorNames.Part.query, c.heads), (.key, c.kvHeads), (.value, nil)] {
                    let h = interleave ? heads : nil
                    try part(p, heads: h)
                    try part(p, "bias", heads: h)
                }
                try part(.gate)
                try part(.up)
            }
            try part(.queryNorm)
            try part(.keyNorm)
            try part(.attentionOutput)
            try part(.attentionOutput, "bias")
            try part(.ffnNorm)
            try part(.down)
            for p in [DecoderTensorNames.Part.gate, .up, .down] where !c.architecture.fusedProjections || p == .down { try part(p, "bias") }
        }
        try source.add(hf.outputNorm + ".weight", as: gguf.outputNorm + ".weight", float32: true, values: norm)
        if source.contains(hf.output + ".weight") { try source.add(hf.output + ".weight", as: gguf.output + ".weight") }

        let keys = DecoderGGUFKeys(arch: arch)
        var m = try general(folder, arch: arch, formats: source.formats)
        m += [
            keys.u32("vocab_size", c.vocabSize), keys.u32("context_length", c.contextLength),
            keys.u32("embedding_length", c.hiddenSize), keys.u32("block_count", c.layers),
            keys.u32("feed_forward_length", c.intermediateSize), keys.u32("attention.head_count", c.heads),
            keys.u32("attention.head_count_kv", c.kvHeads), keys.f32("attention.layer_norm_rms_epsilon", c.rmsEpsilon),
            keys.f32("rope.freq_base", c.ropeBase), keys.u32("rope.dimension_count", c.rotaryDim),
        ]
        if c.headDim * c.heads != c.hiddenSize {
            m += [keys.u32("attention.key_length", c.headDim), keys.u32("attention.value_length", c.headDim)]
        }
        if case let .linear(factor) = c.ropeScaling {
            m += [.string("\(arch).rope.scaling.type", "linear"), keys.f32("rope.scaling.factor", factor)]
        }
        m += try tokenizerMetadata(folder, context: c.contextLength)
        return (arch, m, source)
    }

    /// Llama 3's rope scaling as llama.cpp takes it: a `rope_freqs` tensor of
    /// divisors, one per rotated pair (the unscaled frequency over the scaled one).
    private func ropeFactors(_ c: DecoderConfig, _ scaling: RopeScaling) throws -> [Float]? {
        guard case .llama3 = scaling else { return nil }
        let plain = RotaryFrequencies.inverse(base: c.ropeBase, rotaryDim: c.rotaryDim, scaling: nil)
        let scaled = RotaryFrequencies.inverse(base: c.ropeBase, rotaryDim: c.rotaryDim, scaling: scaling)
        return zip(plain, scaled).map { $0 / $1 }
    }

    /// A decoder's tokenizer: the source GGUF's `tokenizer.*` keys as stored, or the folder's byte-level BPE.
    private func tokenizerMetadata(_ folder: URL, context: Int) throws -> [GGUFMetadataEntry] {
        if let gguf = tokenizerSource {
            return gguf.metadataKeys.filter { $0.hasPrefix("tokenizer.") }.map { GGUFMetadataEntry($0, gguf.metadata[$0]!, as: gguf.metadataTypes[$0]!) }
        }
        let t = try BPETokenizer(huggingFaceFolder: folder)
        var m: [GGUFMetadataEntry] = [
            .string("tokenizer.ggml.model", "gpt2"), .string("tokenizer.ggml.pre", t.preTokenizer == .smollm ? "smollm" : "gpt2"),
            .strings("tokenizer.ggml.tokens", t.tokens), .int32s("tokenizer.ggml.token_type", t.kinds.map(\.rawValue)),
            .strings("tokenizer.ggml.merges", t.mergeList), .bool("tokenizer.ggml.add_bos_token", t.addBOS),
        ]
        if let bos = t.bosID { m.append(.uint32("tokenizer.ggml.bos_token_id", Int(bos))) }
        if let eos = t.eosID { m.append(.uint32("tokenizer.ggml.eos_token_id", Int(eos))) }
        // The chat template, where tokenizer_config.json has one (llama-server and Ollama format chats with it).
        let config = folder.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: config.path), let template = try FileReading.jsonObject(at: config)["chat_template"] as? String {
            m.append(.string("tokenizer.chat_template", template))
        }
        return m
    }

    // MARK: What every file carries

    /// `general.*` and the card's facts as `slim.*`.
    func general(_ folder: URL, arch: String, formats: [String: QuantFormat]) throws -> [GGUFMetadataEntry] {
        let card = (try? FileReading.jsonObject(at: folder.appendingPathComponent(OutputPolicy.cardFile))) ?? [:]
        // The format most weights are in names the file (llama.cpp's "mostly Q4_0"); a float folder is mostly F16.
        let counts = Dictionary(grouping: formats.values, by: { $0 }).mapValues(\.count)
        let main = counts.max { ($0.value, $0.key.description) < ($1.value, $1.key.description) }?.key
        var m: [GGUFMetadataEntry] = [
            .string("general.architecture", arch), .string("general.type", "model"),
            .string("general.name", (card["source_model"] as? String).map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
                ?? folder.lastPathComponent),
            .string("general.quantized_by", GGUFOutput.writer), .uint32("general.file_type", main?.llamaFileType ?? 1),
        ]
        for key in ["method", "format", "calibration", "source_model", "source_sha256"] {
            if let v = card[key] as? String { m.append(.string("slim.\(key)", v)) }
        }
        for key in ["bytes_before", "bytes_after"] {
            if let v = card[key] as? Int { m.append(.init("slim.\(key)", .uint(UInt64(max(v, 0))), as: .uint64)) }
        }
        if !formats.isEmpty {
            m.append(.strings("slim.layer_formats", formats.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }))
        }
        return m
    }
}

/// `<arch>.<key>` entries with the types llama.cpp's loader asks for.
struct DecoderGGUFKeys {
    let arch: String
    func u32(_ key: String, _ v: Int) -> GGUFMetadataEntry { .uint32("\(arch).\(key)", v) }
    func f32(_ key: String, _ v: Float) -> GGUFMetadataEntry { .float32("\(arch).\(key)", v) }
}

extension GGUFTensorSource {
    /// An optional made-up tensor (nil: none).
    mutating func add(_ made: ([Float], [Int])?, as ggufName: String) {
        if let (values, shape) = made { add(values: values, shape: shape, as: ggufName) }
    }
}
