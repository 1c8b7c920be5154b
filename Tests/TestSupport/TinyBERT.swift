import Foundation

/// A 2-block random BERT (hidden 32, 4 heads of 8, MLP 64) over a 25-word
/// vocabulary, written as a Hugging Face folder (config.json, model.safetensors,
/// vocab.txt): small enough that a debug build runs it in milliseconds.
public enum TinyBERT {
    public static let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "a", "the", "cat", "sat", "on", "mat", "man",
                               "is", "playing", "guitar", "stocks", "fell", "sharply", "monday", "dog", "runs", "in", "park"]
    public static let hidden = 32

    /// A named f32 tensor of the folder, before it is written.
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public var values: [Float]
    }

    /// Writes the folder with weights drawn from `seed`; `edit` may change them first
    /// (e.g. damage one region of a copy).
    public static func write(at folder: URL, seed: UInt64, edit: (inout [Tensor]) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (mlp, positions) = (64, 512)
        var rng = SplitMix64(seed: seed)
        func random(_ count: Int, scale: Float = 0.2) -> [Float] { rng.matrix(count).map { $0 * scale } }
        var tensors: [Tensor] = [
            Tensor(name: "embeddings.word_embeddings.weight", shape: [words.count, hidden], values: random(words.count * hidden, scale: 1)),
            Tensor(name: "embeddings.position_embeddings.weight", shape: [positions, hidden], values: random(positions * hidden)),
            Tensor(name: "embeddings.token_type_embeddings.weight", shape: [2, hidden], values: random(2 * hidden)),
            Tensor(name: "embeddings.LayerNorm.weight", shape: [hidden], values: Array(repeating: 1, count: hidden)),
            Tensor(name: "embeddings.LayerNorm.bias", shape: [hidden], values: Array(repeating: 0, count: hidden)),
        ]
        for layer in 0..<2 {
            let p = "encoder.layer.\(layer)."
            for (name, out, inputs) in [("attention.self.query", hidden, hidden), ("attention.self.key", hidden, hidden),
                                        ("attention.self.value", hidden, hidden), ("attention.output.dense", hidden, hidden),
                                        ("intermediate.dense", mlp, hidden), ("output.dense", hidden, mlp)] {
                tensors.append(Tensor(name: p + name + ".weight", shape: [out, inputs], values: random(out * inputs)))
                tensors.append(Tensor(name: p + name + ".bias", shape: [out], values: random(out, scale: 0.05)))
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                tensors.append(Tensor(name: p + norm + ".weight", shape: [hidden], values: Array(repeating: 1, count: hidden)))
                tensors.append(Tensor(name: p + norm + ".bias", shape: [hidden], values: Array(repeating: 0, count: hidden)))
            }
        }
        edit(&tensors)
        // safetensors: an 8-byte little-endian header length, the JSON header, then the little-endian f32 data.
        var header: [String: Any] = [:], data = Data(), offset = 0
        for t in tensors {
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
            t.values.withUnsafeBytes { data.append(contentsOf: $0) }
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
}
