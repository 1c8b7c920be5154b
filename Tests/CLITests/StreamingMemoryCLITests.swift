import Foundation
import Testing
import TestSupport

/// Issue 16: the layer-wise pipeline holds one block at a time, so compressing a
/// model twice as deep costs the same memory (within 15 %), not twice.
/// The models are random bf16 Llamas written here (no torch), wide enough that
/// a block is several MB and the whole model far more than the process's baseline.
@Suite struct StreamingMemoryCLI {
    // A block is 24 MB in bf16 (47 MB as fp32): well above the few MB the process's own peak wanders by.
    static let hidden = 1024, heads = 16, kvHeads = 4, intermediate = 2816

    /// A sharded bf16 Llama folder of `layers` blocks with the fixtures' 320-token tokenizer.
    static func model(layers: Int, at folder: URL, seed: UInt64, sourceFile: String = #filePath) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let fixture = URL(fileURLWithPath: sourceFile).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/decoders/llama3")
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        let vocab = 320, d = hidden / heads
        let config: [String: Any] = [
            "model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": kvHeads, "intermediate_size": intermediate, "vocab_size": vocab, "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "bos_token_id": 0, "eos_token_id": 0,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [vocab, hidden]), ("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
        for i in 0..<layers {
            let p = "model.layers.\(i)."
            shapes += [(p + "input_layernorm.weight", [hidden]), (p + "post_attention_layernorm.weight", [hidden]),
                       (p + "self_attn.q_proj.weight", [heads * d, hidden]), (p + "self_attn.k_proj.weight", [kvHeads * d, hidden]),
                       (p + "self_attn.v_proj.weight", [kvHeads * d, hidden]), (p + "self_attn.o_proj.weight", [hidden, heads * d]),
                       (p + "mlp.gate_proj.weight", [intermediate, hidden]), (p + "mlp.up_proj.weight", [intermediate, hidden]),
                       (p + "mlp.down_proj.weight", [hidden, intermediate])]
        }
        var rng = SplitMix64(seed: seed)
        // Random values tiled from a pool: memory behaves the same, and the debug build draws them fast.
        let pool = (0..<65_537).map { _ in UInt16(truncatingIfNeeded: Float.random(in: -0.05...0.05, using: &rng).bitPattern >> 16) }
        var next = 0
        // One shard per block (and one for the tables), as large checkpoints are split.
        var weightMap: [String: String] = [:]
        let groups = Dictionary(grouping: shapes) { name, _ in name.hasPrefix("model.layers.") ? Int(name.split(separator: ".")[2])! : -1 }
        let order = groups.keys.sorted()
        for (k, key) in order.enumerated() {
            let file = String(format: "model-%05d-of-%05d.safetensors", k + 1, order.count)
            var header: [String: Any] = ["__metadata__": ["format": "pt"]], data = Data()
            for (name, shape) in groups[key]! {
                let count = shape.reduce(1, *), isNorm = shape.count == 1
                let bits: [UInt16] = isNorm ? (0..<count).map { _ in UInt16(truncatingIfNeeded: (1 + Float.random(in: -0.1...0.1, using: &rng)).bitPattern >> 16) }
                    : (0..<count).map { _ in next = (next + 1) % pool.count; return pool[next] }
                header[name] = ["dtype": "BF16", "shape": shape, "data_offsets": [data.count, data.count + 2 * count]]
                bits.withUnsafeBytes { data.append(contentsOf: $0) }
                weightMap[name] = file
            }
            var json = try JSONSerialization.data(withJSONObject: header)
            json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
            var out = Data()
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(json)
            out.append(data)
            try out.write(to: folder.appendingPathComponent(file))
        }
        let index: [String: Any] = ["metadata": ["total_size": shapes.reduce(0) { $0 + 2 * $1.1.reduce(1, *) }], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
    }

    /// The peak resident memory `slim compress --json` reports. Round-to-nearest: the weights stream
    /// the same way for every method, and GPTQ's own memory is one block's (the debug build's GPTQ at
    /// this width takes minutes). Holding a whole model would add a block of 24 MB (bf16 pages) to 47 MB (fp32).
    static func peak(_ source: URL, _ output: URL) throws -> (peak: Double, ratio: Double) {
        let r = try slim(["compress", source.path, "-o", output.path, "--quant", "int4-g128", "--backend", "cpu", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let card = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return (Double(card?["peak_resident_bytes"] as? Int ?? 0), card?["size_ratio"] as? Double ?? 0)
    }

    @Test(.seeded) func twiceTheDepthCostsTheSameMemory() throws {
        let base = try Temporary.folder("streaming-memory")
        defer { try? FileManager.default.removeItem(at: base) }
        try Self.model(layers: 1, at: base.appendingPathComponent("l1"), seed: TestSeed.current)
        try Self.model(layers: 2, at: base.appendingPathComponent("l2"), seed: TestSeed.current &+ 1)
        let shallow = try Self.peak(base.appendingPathComponent("l1"), base.appendingPathComponent("l1-q"))
        let deep = try Self.peak(base.appendingPathComponent("l2"), base.appendingPathComponent("l2-q"))
        print(String(format: "peak resident: 1 block %.1f MB, 2 blocks %.1f MB (%.3fx); size ratios %.3f, %.3f",
                     shallow.peak / 1e6, deep.peak / 1e6, deep.peak / shallow.peak, shallow.ratio, deep.ratio))
        #expect(shallow.peak > 0 && deep.peak <= 1.15 * shallow.peak, "2 blocks take \(deep.peak / shallow.peak)x the memory of 1")
        // Stricter than the 15 % of issue 16 at this size: the extra block may not stay, even in part
        // (left mapped after it is done, it added 14 MB, 1.146x).
        let block = Double(2 * (4 * Self.hidden * Self.hidden / Self.heads * (Self.heads + Self.kvHeads) / 2 + 3 * Self.hidden * Self.intermediate))
        #expect(deep.peak - shallow.peak < 0.2 * block, "the second block added \((deep.peak - shallow.peak) / 1e6) MB; a block is \(block / 1e6) MB")
        // int4 blocks, Q8_0 tables: far below the bf16 source, never above it.
        #expect(deep.ratio > 0 && deep.ratio < 0.5, "size ratio \(deep.ratio)")
    }
}
