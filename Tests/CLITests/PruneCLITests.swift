import Foundation
import Testing
import TestSupport

/// `slim prune --pattern heads:F|neurons:F` end to end: a smaller folder that
/// `slim eval`, `slim embed` and `slim compress` take. The model is a tiny
/// random BERT written here (MiniLM would spend most of a debug run hashing
/// its 90 MB for the model card); the MiniLM figures are in the model tests.
@Suite(.serialized) struct StructuredPruneCLI {
    static let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "a", "the", "cat", "sat", "on", "mat", "man",
                        "is", "playing", "guitar", "stocks", "fell", "sharply", "monday", "dog", "runs", "in", "park"]

    /// A 2-block BERT (hidden 32, 4 heads of 8, MLP 64) with random weights drawn from `seed`.
    static func tinyBERT(at folder: URL, seed: UInt64) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (hidden, mlp, positions) = (32, 64, 512)
        var rng = SplitMix64(seed: seed)
        func random(_ count: Int, scale: Float = 0.2) -> [Float] { rng.matrix(count).map { $0 * scale } }
        var tensors: [(String, [Int], [Float])] = [
            ("embeddings.word_embeddings.weight", [words.count, hidden], random(words.count * hidden, scale: 1)),
            ("embeddings.position_embeddings.weight", [positions, hidden], random(positions * hidden)),
            ("embeddings.token_type_embeddings.weight", [2, hidden], random(2 * hidden)),
            ("embeddings.LayerNorm.weight", [hidden], Array(repeating: 1, count: hidden)),
            ("embeddings.LayerNorm.bias", [hidden], Array(repeating: 0, count: hidden)),
        ]
        for layer in 0..<2 {
            let p = "encoder.layer.\(layer)."
            for (name, out, inputs) in [("attention.self.query", hidden, hidden), ("attention.self.key", hidden, hidden),
                                        ("attention.self.value", hidden, hidden), ("attention.output.dense", hidden, hidden),
                                        ("intermediate.dense", mlp, hidden), ("output.dense", hidden, mlp)] {
                tensors.append((p + name + ".weight", [out, inputs], random(out * inputs)))
                tensors.append((p + name + ".bias", [out], random(out, scale: 0.05)))
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                tensors.append((p + norm + ".weight", [hidden], Array(repeating: 1, count: hidden)))
                tensors.append((p + norm + ".bias", [hidden], Array(repeating: 0, count: hidden)))
            }
        }
        // safetensors: an 8-byte little-endian header length, the JSON header, then the little-endian f32 data.
        var header: [String: Any] = [:], data = Data(), offset = 0
        for (name, shape, values) in tensors {
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * values.count]]
            offset += 4 * values.count
            values.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        try (file + json + data).write(to: folder.appendingPathComponent("model.safetensors"))
        let config: [String: Any] = ["model_type": "bert", "architectures": ["BertModel"], "vocab_size": words.count,
                                     "hidden_size": hidden, "num_hidden_layers": 2, "num_attention_heads": 4,
                                     "intermediate_size": mlp, "max_position_embeddings": positions, "type_vocab_size": 2,
                                     "hidden_act": "gelu", "layer_norm_eps": 1e-12]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        try (words.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Per block: heads:0.25 removes 1 head of 8 dims (8 rows of Q, K, V with their biases, 8 columns of O);
    /// neurons:0.5 removes 32 of 64 neurons (32 rows of the up projection with their biases, 32 columns of the down one).
    @Test(.seeded, arguments: [("heads:0.25", 2 * (4 * 8 * 32 + 3 * 8)), ("neurons:0.5", 2 * (2 * 32 * 32 + 32))])
    func prunedFolderIsSmallerAndEvalsEmbedsAndQuantizes(_ pattern: String, removedParameters: Int) throws {
        let base = try Temporary.folder("cli-structured")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = base.appendingPathComponent("tiny"), out = base.appendingPathComponent("pruned").path
        let int8 = base.appendingPathComponent("int8").path, texts = base.appendingPathComponent("texts.txt")
        try Self.tinyBERT(at: model, seed: TestSeed.current)
        let p = try slim(["prune", model.path, "-o", out, "--pattern", pattern, "--method", "wanda", "--samples", "4",
                          "--backend", "cpu", "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        let card = try Self.json(p.stdout)
        // fp32 values leave the file; its JSON header changes by a few bytes and gains
        // Slim's checksums (a key and 16 hex digits per tensor, and one for the header).
        let removedBytes = (card["bytes_before"] as? Int ?? 0) - (card["bytes_after"] as? Int ?? 0)
        let written = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        let headerLength = written.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: written[8..<8 + headerLength]) as? [String: Any])
        let checksums = ((header["__metadata__"] as? [String: String]) ?? [:]).filter { $0.key.hasPrefix("slim.xxh64") }
        let checksumBytes = checksums.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 }
        #expect(checksums.count == header.count, "one per tensor and one for the header")
        #expect(abs(removedBytes + checksumBytes - 4 * removedParameters) < 256, "\(pattern): \(removedBytes) bytes removed")
        let config = try Self.json(try String(contentsOfFile: out + "/config.json", encoding: .utf8))
        let sparsity = config["sparsity_config"] as? [String: Any]
        #expect(sparsity?["parameters_after"] as? Int ?? .max < sparsity?["parameters_before"] as? Int ?? 0)
        if pattern.hasPrefix("heads") {
            #expect((config["pruned_heads"] as? [String: [Int]])?.values.map(\.count) == [1, 1], "one of 4 heads per block")
        } else {
            #expect(config["slim_intermediate_sizes"] as? [Int] == [32, 32], "half of 64 neurons per block")
        }

        try "the cat sat on the mat.\na man is playing a guitar.\nstocks fell sharply on monday.\n"
            .write(to: texts, atomically: true, encoding: .utf8)
        let e = try slim(["eval", model.path, out, "--data", texts.path, "--backend", "cpu", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let r = try Self.json(e.stdout)
        #expect((r["mean_cosine"] as? Double ?? 0) > 0 && (r["size_ratio"] as? Double ?? 1) < 1, "\(r)")
        func embeds(on backend: String) throws {
            let embed = try slim(["embed", out, "the dog runs in the park.", "--backend", backend, "--json"])
            #expect(embed.status == 0, "the pruned folder embeds on \(backend): \(embed.stderr)")
        }
        try embeds(on: "cpu")
        let q = try slim(["compress", out, "-o", int8, "--quant", "int8"])
        #expect(q.status == 0, "prune, then quantize: \(q.stderr)")
        let qe = try slim(["embed", int8, "the cat sat on the mat.", "--backend", "cpu"])
        #expect(qe.status == 0, "\(qe.stderr)")
        try OpenCLHalf.require()
        try embeds(on: "opencl")
    }

    @Test func patternsThatRemoveEverythingOrDoNotParseAreRefused() throws {
        let model = Temporary.url("no-such-model"), out = Temporary.url("never-written")
        defer { try? FileManager.default.removeItem(at: out) }
        for bad in ["neurons:1.0", "heads:1", "heads:", "columns:0.5"] {
            let r = try slim(["prune", model.path, "-o", out.path, "--pattern", bad])
            #expect(r.status != 0 && r.stderr.contains(bad), "\(bad): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
