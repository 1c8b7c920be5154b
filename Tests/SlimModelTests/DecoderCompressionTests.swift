import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// A tiny random Llama written as a GGUF file (2 blocks, 4 query heads over 2
/// KV heads, an MLP of 96 so groups of 64 do not tile it), with a byte-level
/// tokenizer of single letters and a few merges.
enum TinyLlama {
    static let hidden = 64, heads = 4, kvHeads = 2, ffn = 96, layers = 2, context = 128
    static let letters = Array("abcdefghijklmnopqrstuvwxyz .,!?").map(String.init)
    static let merges = ["a b", "c d", "ab cd", "e f", "t h", "th e"]
    static var tokens: [String] { ["<|endoftext|>"] + letters.map { $0 == " " ? "Ġ" : $0 } + ["ab", "cd", "abcd", "ef", "th", "the"] }

    /// The model as GGUF bytes, weights drawn from `seed`. With `onGrid`, every weight matrix is
    /// already a round trip through that format (stored as F32), so compressing to it changes no value.
    /// `edit` changes the metadata or tensors before they are written (the tests of bad files).
    static func gguf(seed: UInt64, onGrid grid: QuantFormat? = nil,
                     edit: (inout [(String, TestGGUF.Value)], inout [TestGGUF.Tensor]) -> Void = { _, _ in }) throws -> Data {
        var rng = SplitMix64(seed: seed)
        func weight(_ name: String, _ out: Int, _ inFeatures: Int, scale: Float) throws -> TestGGUF.Tensor {
            var values = (0..<out * inFeatures).map { _ in Float.random(in: -scale...scale, using: &rng) }
            if let grid {
                let e = try QuantCodec.encode(values, rows: out, columns: inFeatures, format: grid)
                values = try QuantCodec.decode(e, rows: out, columns: inFeatures, format: grid)
            }
            return .init(name: name, type: 0, dims: [UInt64(inFeatures), UInt64(out)], data: values.withUnsafeBytes { Array($0) })
        }
        func norm(_ name: String) -> TestGGUF.Tensor {
            // A few channels ten times larger, as real LLMs have: the activations AWQ protects.
            let values = (0..<hidden).map { Float.random(in: 0.8...1.2, using: &rng) * ($0 % 16 == 3 ? 10 : 1) }
            return .init(name: name, type: 0, dims: [UInt64(hidden)], data: values.withUnsafeBytes { Array($0) })
        }
        let kv = hidden / heads * kvHeads, vocab = tokens.count
        var tensors = [try weight("token_embd.weight", vocab, hidden, scale: 1), norm("output_norm.weight")]
        for i in 0..<layers {
            let p = "blk.\(i)."
            tensors += [norm(p + "attn_norm.weight"), norm(p + "ffn_norm.weight"),
                        try weight(p + "attn_q.weight", hidden, hidden, scale: 0.3), try weight(p + "attn_k.weight", kv, hidden, scale: 0.3),
                        try weight(p + "attn_v.weight", kv, hidden, scale: 0.2), try weight(p + "attn_output.weight", hidden, hidden, scale: 0.2),
                        try weight(p + "ffn_gate.weight", ffn, hidden, scale: 0.2), try weight(p + "ffn_up.weight", ffn, hidden, scale: 0.2),
                        try weight(p + "ffn_down.weight", hidden, ffn, scale: 0.2)]
        }
        var metadata: [(String, TestGGUF.Value)] = [
            ("general.architecture", .string("llama")), ("llama.block_count", .u32(UInt32(layers))),
            ("llama.embedding_length", .u32(UInt32(hidden))), ("llama.feed_forward_length", .u32(UInt32(ffn))),
            ("llama.attention.head_count", .u32(UInt32(heads))), ("llama.attention.head_count_kv", .u32(UInt32(kvHeads))),
            ("llama.context_length", .u32(UInt32(context))), ("llama.rope.freq_base", .f32(10000)),
            ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5)),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(type: 8, tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(type: 5, tokens.indices.map { .i32($0 == 0 ? 3 : 1) })),
            ("tokenizer.ggml.merges", .array(type: 8, merges.map { .string($0) })),
            ("tokenizer.ggml.bos_token_id", .u32(0)), ("tokenizer.ggml.eos_token_id", .u32(0)),
        ]
        edit(&metadata, &tensors)
        return TestGGUF.file(metadata: metadata, tensors: tensors)
    }

    /// Writes the model to a fresh temporary folder (the caller removes the folder).
    static func write(seed: UInt64, onGrid grid: QuantFormat? = nil) throws -> URL {
        let folder = try Temporary.folder("tiny-llama")
        let url = folder.appendingPathComponent("tiny.gguf")
        try gguf(seed: seed, onGrid: grid).write(to: url)
        return url
    }

    static func text(_ words: Int, using rng: inout SplitMix64) -> String {
        (0..<words).map { _ in String((0..<Int.random(in: 1...6, using: &rng)).map { _ in "abcdefghthe".randomElement(using: &rng)! }) }
            .joined(separator: " ")
    }
}

@Suite struct DecoderCompressionTests {
    /// Logits of every position of `ids`.
    static func logits(_ model: DecoderModel, _ ids: [Int32]) throws -> [Float] {
        try model.backend.floats(try model.logits(try model.hiddenStates(ids), rows: 0..<ids.count))
    }

    static func nmse(_ a: [Float], _ b: [Float]) -> Double {
        var e = 0.0, n = 0.0
        for (x, y) in zip(a, b) { e += Double(x - y) * Double(x - y); n += Double(y) * Double(y) }
        return e / n
    }

    /// Un-permuting undoes llama.cpp's conversion permute, written here as its converter writes it.
    @Test func unpermuteInvertsLlamaCppsPermute() {
        let (heads, d, columns) = (3, 8, 5)
        let hf = (0..<heads * d * columns).map { Float($0) }
        // convert_hf_to_gguf: reshape(heads, 2, d/2, columns).swapaxes(1, 2): GGUF row h·d + 2j + t is HF row h·d + t·d/2 + j.
        var gguf = [Float](repeating: 0, count: hf.count)
        for h in 0..<heads { for j in 0..<d / 2 { for t in 0..<2 { for c in 0..<columns {
            gguf[(h * d + 2 * j + t) * columns + c] = hf[(h * d + t * d / 2 + j) * columns + c]
        } } } }
        #expect(DecoderTensorNames.unpermuteRows(gguf, rows: heads * d, columns: columns, heads: heads) == hf)
    }

    /// The folder runs as its source: Hugging Face names, un-permuted query and
    /// key rows with half-split RoPE, Q8_0 weights and the tokenizer written as
    /// tokenizer.json. The source's weights are already on the Q8_0 grid, so the
    /// folder holds the very same values and only the order of fp32 sums differs:
    /// a wrong row order, RoPE pairing or rounding shows far above that.
    @Test(.seeded) func q8FolderRunsLikeItsGGUFSource() throws {
        let source = try TinyLlama.write(seed: TestSeed.current, onGrid: .q8_0)
        let output = source.deletingLastPathComponent().appendingPathComponent("q8")
        defer { try? FileManager.default.removeItem(at: source.deletingLastPathComponent()) }
        let report = try DecoderCompressor(format: .q8_0).compress(source, to: output)
        #expect(report.layers.count == 1 + TinyLlama.layers * 7)
        let backend = CPUBackend()
        let (original, tokenizer) = try DecoderModel.load(source, backend: backend)
        let (compressed, folderTokenizer) = try DecoderModel.load(output, backend: backend)
        #expect(compressed.names == .huggingFace)
        var rng = SplitMix64(seed: TestSeed.current &+ 1)
        let text = TinyLlama.text(12, using: &rng)
        let ids = tokenizer.encode(text)
        #expect(folderTokenizer.encode(text) == ids, "tokenizer.json encodes as the GGUF tokenizer: \(text)")
        // The merges run in rank order, so "the" is one token ("t h", then "th e").
        let the = Int32(TinyLlama.tokens.firstIndex(of: "the")!)
        #expect(tokenizer.encode("the") == [the] && folderTokenizer.encode("the") == [the])
        let error = Self.nmse(try Self.logits(compressed, ids), try Self.logits(original, ids))
        // Summation order alone: NMSE at most 1.4e-11 over 32 seeds × 3 texts. (Rounding random weights to Q8_0
        // instead moved these logits by 1e-3 to 3e-2, as a random toy's near-hard attention amplifies it; a broken layout by ~1.)
        #expect(error < 1e-8, "NMSE \(error)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("config.json"))) as? [String: Any]
        #expect(config?["model_type"] as? String == "llama" && config?["tie_word_embeddings"] as? Bool == true)
        for file in ["MODEL_CARD.md", "model_card.json", "tokenizer.json", "tokenizer_config.json"] {
            #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent(file).path), "\(file)")
        }
        #expect(throws: SlimError.self, "an existing output is refused") { try DecoderCompressor(format: .q8_0).compress(source, to: output) }
        #expect(throws: SlimError.self, "a quantized folder is not a source") {
            try DecoderCompressor(format: .q8_0).compress(output, to: output.deletingLastPathComponent().appendingPathComponent("again"))
        }
    }

    /// GPTQ's error compensation beats round-to-nearest on the model's output,
    /// on text it was not calibrated on; groups of 64 fall back to 32 where K = 96.
    @Test(.seeded) func gptqBeatsRoundToNearest() throws {
        let source = try TinyLlama.write(seed: TestSeed.current)
        let folder = source.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: folder) }
        let backend = CPUBackend()
        var rng = SplitMix64(seed: TestSeed.current &+ 1)
        var gptq = DecoderCompressor(format: .int4(groupSize: 64, symmetric: true), method: .gptq)
        gptq.calibration = ((0..<24).map { _ in TinyLlama.text(40, using: &rng) }, backend, "random words")
        gptq.calibrationContext = 64
        let rtnReport = try DecoderCompressor(format: .int4(groupSize: 64, symmetric: true)).compress(source, to: folder.appendingPathComponent("rtn"))
        _ = try gptq.compress(source, to: folder.appendingPathComponent("gptq"))
        #expect(rtnReport.layers.first { $0.name.hasSuffix("mlp.down_proj.weight") }?.format == "int4-g32")
        #expect(rtnReport.layers.first { $0.name.hasSuffix("mlp.up_proj.weight") }?.format == "int4-g64")
        let (original, tokenizer) = try DecoderModel.load(source, backend: backend)
        // 30 random words are 90 to 150 tokens: the model's context holds the first 128.
        let ids = Array(tokenizer.encode(TinyLlama.text(30, using: &rng)).prefix(TinyLlama.context))
        let reference = try Self.logits(original, ids)
        let rtn = Self.nmse(try Self.logits(try DecoderModel.load(folder.appendingPathComponent("rtn"), backend: backend).0, ids), reference)
        let gptqError = Self.nmse(try Self.logits(try DecoderModel.load(folder.appendingPathComponent("gptq"), backend: backend).0, ids), reference)
        #expect(gptqError < rtn, "GPTQ NMSE \(gptqError) vs RTN \(rtn)")
        // AWQ's scales fold into the norms and up's rows; only the output projection keeps a run-time scale.
        var awq = DecoderCompressor(format: .int4(groupSize: 64, symmetric: true), method: .awq)
        (awq.calibration, awq.calibrationContext) = (gptq.calibration, 64)
        _ = try awq.compress(source, to: folder.appendingPathComponent("awq"))
        let names = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("awq/model.safetensors")).tensors.map(\.name)
        #expect(names.filter { $0.hasSuffix(".input_scale") }.allSatisfy { $0.contains("o_proj") })
        #expect(names.filter { $0.hasSuffix(".input_scale") }.count == TinyLlama.layers)
        let awqError = Self.nmse(try Self.logits(try DecoderModel.load(folder.appendingPathComponent("awq"), backend: backend).0, ids), reference)
        print("tiny Llama int4-g64 NMSE: RTN \(rtn), GPTQ \(gptqError), AWQ \(awqError)")
        // Each layer's calibrated output error falls, but on this random toy the model's error does not follow
        // (on SmolLM2 AWQ beats RTN and GPTQ); a fold left out would scale weights by up to 10x uncompensated: NMSE ~1.
        #expect(awqError < 3 * rtn, "AWQ NMSE \(awqError) vs RTN \(rtn)")
        let source32 = try GGUFFile(contentsOf: source), awqFile = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("awq/model.safetensors"))
        let folded = try awqFile.floats(try awqFile.tensor(named: "model.layers.0.input_layernorm.weight"))
        #expect(folded != (try source32.floats(try source32.tensor(named: "blk.0.attn_norm.weight"))), "the attention norm carries Q/K/V's scales")
    }

    @Test func badSourcesAreClearErrors() throws {
        let folder = Temporary.url("bad-decoder")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: SlimError.self) { try DecoderCompressor(format: .q8_0).compress(folder.appendingPathComponent("none.gguf"), to: folder) }
        let source = try TinyLlama.write(seed: 3)
        defer { try? FileManager.default.removeItem(at: source.deletingLastPathComponent()) }
        #expect(throws: SlimError.self, "GPTQ without calibration") {
            try DecoderCompressor(format: .int4(groupSize: 32, symmetric: true), method: .gptq).compress(source, to: folder)
        }
        #expect(throws: SlimError.self, "AWQ without calibration") {
            try DecoderCompressor(format: .int4(groupSize: 32, symmetric: true), method: .awq).compress(source, to: folder)
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path), "a failed run leaves no output")
    }
}
