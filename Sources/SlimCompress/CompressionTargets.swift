import SlimModel

/// Which weights of a BERT encoder compression touches: every linear layer of
/// every block, the pooler (stored, though sentence embeddings never run it),
/// and the word and position tables (int8 per row; the word table is the
/// largest tensor of a small encoder). Norms, biases and the three-row type
/// table stay fp32: they are small and sensitive.
enum CompressionTargets {
    static func bertLinears(_ c: BertConfig, prefix: String = "") -> [String] {
        (0..<c.layers).flatMap { i -> [String] in
            let p = "\(prefix)encoder.layer.\(i)."
            return ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                    "intermediate.dense", "output.dense"].map { p + $0 + ".weight" }
        }
    }

    static func bertWordEmbeddings(prefix: String = "") -> String { prefix + "embeddings.word_embeddings.weight" }

    static func bertTables(prefix: String = "") -> Set<String> {
        [bertWordEmbeddings(prefix: prefix), prefix + "embeddings.position_embeddings.weight"]
    }

    static func bertPooler(prefix: String = "") -> String { prefix + "pooler.dense.weight" }
}
