import ArgumentParser
import Foundation
import SlimCore
import SlimModel

struct BenchEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Sentence-embedding throughput: 256 short sentences in batches of 32, after a warm-up pass.")

    @OptionGroup var options: EmbeddingModelOptions
    @Option(help: "Sentences per pass.") var sentences = 256
    @Option(help: "Sentences per batch.") var batchSize = 32
    @Option(help: "Timed passes (the median is reported).") var runs = 5
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard sentences >= 1, batchSize >= 1, runs >= 1 else { throw ValidationError("sizes and --runs must be positive") }
    }

    func run() throws {
        let embedder = try options.load()
        // The sentences torch_peers.py gives sentence-transformers, so the figures compare.
        let texts = (0..<sentences).map { "Sentence number \($0) talks about compressing transformer models on small machines." }
        let tokens = texts.reduce(0) { $0 + embedder.tokenizer.encode($1).count }
        let ms = try medianMilliseconds(warmup: 1, runs: runs) { _ = try embedder.embed(texts, batchSize: batchSize) }
        let record: [String: Any] = [
            "backend": embedder.encoder.backend.id.kind.rawValue, "device": embedder.encoder.backend.id.name,
            "sentences": sentences, "batch_size": batchSize, "tokens": tokens, "median_ms": ms,
            "sentences_per_s": Double(sentences) / (ms / 1e3), "tokens_per_s": Double(tokens) / (ms / 1e3),
            "weights": options.quantize.map { $0 + (options.activations == "int8" ? " (int8 activations)" : "") } ?? "f32",
            "weight_bytes": embedder.encoder.weightBytes, "runs": runs,
        ]
        if json {
            try printJSON(record)
        } else {
            print(String(format: "%@ embed %d sentences (%d tokens), batch %d, weights %@: %.1f ms, %.1f sentences/s, %.0f tokens/s",
                         embedder.encoder.backend.id.kind.rawValue, sentences, tokens, batchSize, record["weights"] as! String,
                         ms, record["sentences_per_s"] as! Double, record["tokens_per_s"] as! Double))
        }
    }
}
