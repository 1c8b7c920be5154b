import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Slim folders written as GGUF: read back by Slim's reader and run by Slim's
/// decoder, with what llama.cpp expects of each family checked key by key.
@Suite struct GGUFExportTests {
    /// TinyLlama (a GGUF file) → Q4_0 (Q5_0, Q5_1) Slim folder → GGUF. The GGUF runs as
    /// the folder it came from: the same blocks (query and key rows
    /// interleaved again for llama.cpp's rotary pairs), the same token table,
    /// norms and tokenizer; only the order of fp32 sums may differ.
    /// (llama_ftype: MOSTLY_Q4_0 = 2, MOSTLY_Q5_0 = 8, MOSTLY_Q5_1 = 9.)
    @Test(.seeded, arguments: [(QuantFormat.q4_0, 2), (.q5_0, 8), (.q5_1, 9)])
    func blockGGUFRunsAsItsSlimFolder(_ format: QuantFormat, _ fileType: Int) throws {
        let source = try TinyLlama.write(seed: TestSeed.current)
        let work = source.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: work) }
        let folder = work.appendingPathComponent("q"), output = work.appendingPathComponent("tiny-\(format).gguf")
        _ = try DecoderCompressor(format: format).compress(source, to: folder)
        let sourceFile = try GGUFFile(contentsOf: source)
        let report = try GGUFExport(tokenizerSource: sourceFile).export(folder, to: output, overwrite: false)
        #expect(report.architecture == "llama" && report.kinds[format.description.uppercased()] == TinyLlama.layers * 7, "\(report.kinds)")

        let file = try GGUFFile(contentsOf: output)
        #expect(file.metadata["general.quantized_by"]?.string == "Slim" && file.metadata["general.file_type"]?.int == fileType)
        #expect(file.metadata["slim.method"]?.string == "rtn" && file.metadata["slim.format"]?.string == format.description)
        for key in sourceFile.metadataKeys where key.hasPrefix("tokenizer.") {
            #expect(file.metadata[key] == sourceFile.metadata[key] && file.metadataTypes[key] == sourceFile.metadataTypes[key], "\(key) copied as stored")
        }
        // Blocks byte for byte: V as the folder holds it, Q's rows interleaved (checked against the float un-permute).
        let folderFile = try HuggingFaceCheckpoint.open(folder: folder)
        func blocks(_ f: any TensorFile, _ name: String) throws -> [UInt8] { Array(try f.bytes(of: try f.tensor(named: name))) }
        #expect(try blocks(file, "blk.1.attn_v.weight") == blocks(folderFile, "model.layers.1.self_attn.v_proj.weight.qdata"))
        let q = try file.tensor(named: "blk.0.attn_q.weight")
        let restored = DecoderTensorNames.unpermuteRows(try file.floats(q), rows: q.shape[0], columns: q.shape[1], heads: TinyLlama.heads)
        let store = try PackedWeightStore(file: folderFile, config: folder.appendingPathComponent("config.json"))
        #expect(restored == (try store.floats("model.layers.0.self_attn.q_proj.weight")), "GGUF's Q rows are the folder's, interleaved")

        let backend = CPUBackend()
        let (fromFolder, tokenizer) = try DecoderModel.load(folder, backend: backend)
        let (fromGGUF, ggufTokenizer) = try DecoderModel.load(output, backend: backend)
        var rng = SplitMix64(seed: TestSeed.current &+ 1)
        let text = TinyLlama.text(60, using: &rng)
        let ids = tokenizer.encode(text)
        #expect(ggufTokenizer.encode(text) == ids)
        let window = Array(ids.prefix(TinyLlama.context))
        let error = DecoderCompressionTests.nmse(try DecoderCompressionTests.logits(fromGGUF, window), try DecoderCompressionTests.logits(fromFolder, window))
        // Summation order alone (as q8FolderRunsLikeItsGGUFSource measures it: ≤ 1.4e-11); a wrong row order is ~1.
        #expect(error < 1e-8, "NMSE \(error)")
        let a = try fromFolder.perplexity(tokens: ids, context: 32, chunks: nil), b = try fromGGUF.perplexity(tokens: ids, context: 32, chunks: nil)
        #expect(abs(a.perplexity - b.perplexity) <= 1e-5 * a.perplexity, "perplexity \(b.perplexity) of the GGUF, \(a.perplexity) of the folder")
    }

    /// Each family's fixture (float Hugging Face folders made by transformers) as the architecture,
    /// keys and tensor names llama.cpp loads.
    @Test(arguments: ["llama3", "llama-linear", "mistral", "qwen2", "qwen3", "gemma", "phi3"])
    func familiesGoOutAsLlamaCppNamesThem(_ name: String) throws {
        let folder = try DecoderFamilyTests.folder(name)
        let work = try Temporary.folder("gguf-family")
        defer { try? FileManager.default.removeItem(at: work) }
        let output = work.appendingPathComponent("\(name).gguf")
        _ = try GGUFExport().export(folder, to: output, overwrite: false)
        let file = try GGUFFile(contentsOf: output)
        let c = try DecoderConfig(huggingFace: folder.appendingPathComponent("config.json"))
        let arch = ["llama3": "llama", "llama-linear": "llama", "mistral": "llama"][name] ?? name
        func value(_ key: String) -> GGUFValue? { file.metadata["\(arch).\(key)"] }
        #expect(file.architecture == arch)
        #expect(value("block_count")?.int == c.layers && value("embedding_length")?.int == c.hiddenSize)
        #expect(value("attention.head_count")?.int == c.heads && value("attention.head_count_kv")?.int == c.kvHeads)
        #expect(value("feed_forward_length")?.int == c.intermediateSize && value("rope.dimension_count")?.int == c.rotaryDim)
        #expect(value("attention.layer_norm_rms_epsilon")?.double == Double(c.rmsEpsilon))
        #expect(file.metadataTypes["\(arch).block_count"] == .uint32 && file.metadataTypes["\(arch).rope.freq_base"] == .float32)
        #expect(value("attention.key_length")?.int == (c.headDim * c.heads == c.hiddenSize ? nil : c.headDim))
        #expect(file.metadata["tokenizer.ggml.model"]?.string == "gpt2")
        #expect(file.metadata["tokenizer.ggml.tokens"]?.array?.count == c.vocabSize)

        let names = Set(file.tensors.map(\.name))
        var expected = ["token_embd.weight", "output_norm.weight", "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight",
                        "blk.0.attn_output.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"]
        expected += name == "phi3" ? ["blk.0.attn_qkv.weight"] : ["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.ffn_gate.weight"]
        if name == "qwen3" { expected += ["blk.0.attn_q_norm.weight", "blk.0.attn_k_norm.weight"] }
        if name == "qwen2" { expected += ["blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias"] }
        if !c.tiedEmbeddings { expected.append("output.weight") }
        if name == "llama3" { expected.append("rope_freqs.weight") }
        for e in expected { #expect(names.contains(e), "\(name): \(e)") }
        #expect(names.contains("output.weight") == !c.tiedEmbeddings)
        if name == "llama-linear" {
            #expect(file.metadata["llama.rope.scaling.type"]?.string == "linear" && value("rope.scaling.factor")?.double == 4)
        }
        // Matrices F16, norms F32 (llama.cpp's converter); Gemma's norms carry its 1 + w.
        #expect(try file.tensor(named: "blk.0.ffn_down.weight").kind == .f16 && file.tensor(named: "blk.0.attn_norm.weight").kind == .f32)
        let source = try HuggingFaceCheckpoint.open(folder: folder)
        let norm = try source.floats(try source.tensor(named: "model.layers.0.input_layernorm.weight"))
        let written = try file.floats(try file.tensor(named: "blk.0.attn_norm.weight"))
        #expect(written == norm.map { name == "gemma" ? $0 + 1 : $0 })
        if name == "phi3" {
            let ffnUp = try file.tensor(named: "blk.0.ffn_up.weight")
            #expect(ffnUp.shape == [2 * c.intermediateSize, c.hiddenSize], "gate_up fused, gate rows first")
        }
    }

    /// llama3's rope scaling goes out as llama.cpp takes it: divisors of the plain frequencies.
    @Test func llama3RopeScalingIsARopeFreqsTensor() throws {
        let folder = try DecoderFamilyTests.folder("llama3")
        let work = try Temporary.folder("gguf-rope")
        defer { try? FileManager.default.removeItem(at: work) }
        let output = work.appendingPathComponent("l3.gguf")
        _ = try GGUFExport().export(folder, to: output, overwrite: false)
        let file = try GGUFFile(contentsOf: output)
        let c = try DecoderConfig(huggingFace: folder.appendingPathComponent("config.json"))
        let factors = try file.floats(try file.tensor(named: "rope_freqs.weight"))
        let plain = RotaryFrequencies.inverse(base: c.ropeBase, rotaryDim: c.rotaryDim, scaling: nil)
        let scaled = RotaryFrequencies.inverse(base: c.ropeBase, rotaryDim: c.rotaryDim, scaling: c.ropeScaling)
        #expect(factors.count == c.rotaryDim / 2)
        for i in factors.indices { #expect(abs(plain[i] / factors[i] - scaled[i]) <= 1e-6 * scaled[i], "pair \(i)") }
        #expect(factors.first == 1 && factors.last == 4, "high frequencies kept, the lowest divided by the factor 4")
    }

    /// A random BERT compressed to Q8_0 as llama.cpp's bert: names, keys, pooling, the
    /// phantom-space vocabulary, and the packed blocks byte for byte.
    @Test(.seeded) func bertGoesOutAsLlamaCppsBert() throws {
        let work = try Temporary.folder("gguf-bert")
        defer { try? FileManager.default.removeItem(at: work) }
        let source = work.appendingPathComponent("bert"), folder = work.appendingPathComponent("q8"), output = work.appendingPathComponent("bert.gguf")
        try AutoCompressionTests.randomBert(source, seed: TestSeed.current)
        var compressor = ModelCompressor(format: .q8_0)
        compressor.tableFormat = .q8_0
        _ = try compressor.compress(source, to: folder)
        let report = try GGUFExport().export(folder, to: output, overwrite: false)
        // 12 linears and the word and position tables; the pooler (Q8_0 in the folder) is left out.
        #expect(report.architecture == "bert" && report.kinds["Q8_0"] == 14, "\(report.kinds)")
        let file = try GGUFFile(contentsOf: output)
        #expect(file.metadata["bert.block_count"]?.int == 2 && file.metadata["bert.pooling_type"]?.int == 1)
        #expect(file.metadata["bert.attention.layer_norm_epsilon"]?.double == Double(Float(1e-12)))
        #expect(file.metadata["bert.attention.causal"]?.bool == false)
        #expect(file.metadata["tokenizer.ggml.model"]?.string == "bert" && file.metadata["tokenizer.ggml.token_type_count"]?.int == 2)
        let tokens = try #require(file.metadata["tokenizer.ggml.tokens"]?.strings)
        #expect(Array(tokens.prefix(6)) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u{2581}a"])
        #expect(file.metadata["tokenizer.ggml.cls_token_id"]?.int == 2 && file.metadata["tokenizer.ggml.seperator_token_id"]?.int == 3)
        let names = Set(file.tensors.map(\.name))
        for n in ["token_embd.weight", "position_embd.weight", "token_types.weight", "token_embd_norm.weight", "token_embd_norm.bias",
                  "blk.1.attn_q.weight", "blk.1.attn_q.bias", "blk.1.attn_output_norm.weight", "blk.1.ffn_up.weight",
                  "blk.1.ffn_down.bias", "blk.1.layer_output_norm.bias"] {
            #expect(names.contains(n), "\(n)")
        }
        #expect(!names.contains { $0.contains("pooler") })
        // Slim's default tables (int8 per row) have no GGUF type: refused by name.
        let int8Tables = work.appendingPathComponent("int8-tables")
        _ = try ModelCompressor(format: .q8_0).compress(source, to: int8Tables)
        #expect(throws: SlimError.self) { _ = try GGUFExport().export(int8Tables, to: work.appendingPathComponent("no.gguf"), overwrite: false) }
        let folderFile = try HuggingFaceCheckpoint.open(folder: folder)
        #expect(Array(try file.bytes(of: try file.tensor(named: "blk.1.attn_q.weight")))
                == Array(try folderFile.bytes(of: try folderFile.tensor(named: "encoder.layer.1.attention.self.query.weight.qdata"))))
    }

    /// What GGUF cannot hold, an output that is an input, a folder that does not exist, a
    /// file Slim did not write: each a clear error, and an earlier output survives it whole.
    @Test func badCasesAreClearErrorsAndTheOldOutputSurvives() throws {
        let source = try TinyLlama.write(seed: 11)
        let work = source.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: work) }
        let int4 = work.appendingPathComponent("int4"), q8 = work.appendingPathComponent("q8"), output = work.appendingPathComponent("out.gguf")
        _ = try DecoderCompressor(format: .int4(groupSize: 32, symmetric: true)).compress(source, to: int4)
        _ = try DecoderCompressor(format: .q8_0).compress(source, to: q8)
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let unsupported = message { _ = try GGUFExport().export(int4, to: output, overwrite: false) }
        #expect(unsupported.contains("int4-g32") && unsupported.contains("q8_0") && unsupported.contains("q4_0"), "\(unsupported)")
        #expect(!FileManager.default.fileExists(atPath: output.path), "nothing written by a refused export")

        _ = try GGUFExport().export(q8, to: output, overwrite: false)
        let old = try Data(contentsOf: output)
        let exists = message { _ = try GGUFExport().export(q8, to: output, overwrite: false) }
        #expect(exists.contains("--overwrite"), "\(exists)")
        let failed = message { _ = try GGUFExport().export(int4, to: output, overwrite: true) }
        #expect(failed.contains("int4-g32"), "\(failed)")
        #expect(try Data(contentsOf: output) == old, "a failed run leaves the old output as it was")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasSuffix(".tmp") || $0.contains("partial") }.isEmpty)
        _ = try GGUFExport().export(q8, to: output, overwrite: true)

        let inputAsOutput = message { _ = try GGUFExport(tokenizerSource: try GGUFFile(contentsOf: source)).export(q8, to: source, overwrite: true) }
        #expect(inputAsOutput.contains("input"), "\(inputAsOutput)")
        #expect(try GGUFFile(contentsOf: source).tensors.count > 0, "the input is untouched")
        let noFolder = message { _ = try GGUFExport().export(q8, to: work.appendingPathComponent("missing/out.gguf"), overwrite: false) }
        #expect(noFolder.contains("does not exist"), "\(noFolder)")
        let foreign = work.appendingPathComponent("foreign.gguf")
        try Data("not slim's".utf8).write(to: foreign)
        let notOurs = message { _ = try GGUFExport().export(q8, to: foreign, overwrite: true) }
        #expect(notOurs.contains("not a GGUF file Slim wrote"), "\(notOurs)")
        #expect(try Data(contentsOf: foreign) == Data("not slim's".utf8))
    }
}
