import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Model folders written in shards load through the existing BERT and Llama
/// loaders and compute exactly what the single-file folders compute: the
/// same weights, read through the same code, only from other files.
@Suite struct ShardedModelLoadingTests {
    /// MiniLM's own tensors rewritten as five or so shards beside its tokenizer
    /// and config; its embeddings of random texts equal the original's bit for bit.
    @Test(.seeded) func shardedMiniLMEmbedsAsTheSingleFile() throws {
        let source = try TestAssets.miniLM, folder = try Temporary.folder("sharded-minilm")
        defer { try? FileManager.default.removeItem(at: folder) }
        try StagedFolder.copyCompanionFiles(of: source, into: folder)
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        let file = try HuggingFaceCheckpoint.open(folder: source)
        let writer = try CheckpointWriter(folder: folder, maxShardBytes: 20_000_000)
        for t in file.tensors {
            try writer.append(.init(name: t.name, kind: t.kind, shape: t.shape, data: Data(try file.bytes(of: t))))
            file.release(t)
        }
        let written = try writer.finish()
        print("MiniLM in \(written.files.count - 1) shards: \(written.files.joined(separator: ", "))")
        #expect(written.files.count > 3 && written.files.last == HuggingFaceCheckpoint.indexFile)
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path),
                "the source's weights are not copied as a companion file")

        let backend = CPUBackend()
        let original = try SentenceEmbedder.load(folder: source, backend: backend)
        let sharded = try SentenceEmbedder.load(folder: folder, backend: backend)
        var rng = SplitMix64(seed: TestSeed.current)
        let words = ["the", "model", "is", "small", "a", "cat", "sat", "on", "mat", "weights", "shard", "read"]
        let texts = (0..<4).map { _ in (0..<Int.random(in: 3...12, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ") }
        let a = try original.embed(texts), b = try sharded.embed(texts)
        for (x, y) in zip(a, b) { #expect(x.vector == y.vector, "\(x.text)") }
    }

    /// The tiny Llama compressed to Q8_0 twice, once in shards of 6 kB: the
    /// folders load to models whose logits are identical, and the sharded
    /// folder's card lists every shard and the index as its own files.
    @Test(.seeded) func shardedLlamaFolderRunsAsTheSingleFile() throws {
        let source = try TinyLlama.write(seed: TestSeed.current)
        let base = source.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: base) }
        let single = base.appendingPathComponent("single"), sharded = base.appendingPathComponent("sharded")
        _ = try DecoderCompressor(format: .q8_0).compress(source, to: single, hashSource: false)
        var compressor = DecoderCompressor(format: .q8_0)
        compressor.maxShardBytes = 6000
        let report = try compressor.compress(source, to: sharded, hashSource: false)
        let names = try FileManager.default.contentsOfDirectory(atPath: sharded.path)
        let shards = names.filter { $0.hasPrefix("model-") }.sorted()
        print("tiny Llama in \(shards.count) shards")
        #expect(shards.count > 2 && names.contains(HuggingFaceCheckpoint.indexFile) && !names.contains("model.safetensors"))
        #expect(shards.first == HuggingFaceCheckpoint.shardFile(1, of: shards.count))
        #expect(report.bytesAfter == HuggingFaceCheckpoint.weightBytes(folder: sharded), "the report counts every shard")
        let card = try FileReading.jsonObject(at: sharded.appendingPathComponent("model_card.json"))
        let owned = Set(card[OutputPolicy.cardFilesKey] as? [String] ?? [])
        #expect(owned.isSuperset(of: shards + [HuggingFaceCheckpoint.indexFile]), "\(owned.sorted())")

        let backend = CPUBackend()
        let (a, tokenizer) = try DecoderModel.load(single, backend: backend)
        let (b, _) = try DecoderModel.load(sharded, backend: backend)
        var rng = SplitMix64(seed: TestSeed.current &+ 1)
        let ids = tokenizer.encode(TinyLlama.text(10, using: &rng))
        #expect(try DecoderCompressionTests.logits(b, ids) == DecoderCompressionTests.logits(a, ids))
    }
}
