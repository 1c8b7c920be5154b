import ArgumentParser
import Foundation
import SlimCore
import SlimModel

/// Options that load a sentence-embedding model, shared by `embed` and `bench embed`.
struct EmbeddingModelOptions: ParsableArguments {
    @Argument(help: "A sentence-transformers model folder (config.json, model.safetensors, tokenizer files).")
    var model: String
    @Option(help: "Quantize the linear layers when loading: int8, int4-g32, int4-g64, int4-g128 (-asym), q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k.")
    var quantize: String?
    @Option(help: "With --quantize: f32 (weight-only, the default), int8 or int8-row (activations quantized per token, integer dot products), int8-block (per 32 values).")
    var activations: String?
    @OptionGroup var backendOption: BackendOption

    func validate() throws {
        if let activations {
            // Only products whose weights are quantized at load take quantized activations.
            guard quantize != nil else { throw ValidationError("--activations \(activations) needs --quantize FORMAT") }
            _ = try ActivationPrecision(option: activations)
        }
        if let quantize { _ = try QuantFormat(parsing: quantize) }
    }

    func load() throws -> SentenceEmbedder {
        let backend = try backendOption.open()
        let quantization = try quantize.map {
            LinearQuantization(format: try QuantFormat(parsing: $0), activations: try ActivationPrecision(option: activations ?? "f32"))
        }
        return try SentenceEmbedder.load(folder: URL(fileURLWithPath: model), backend: backend, quantization: quantization)
    }
}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Sentence embeddings: one vector per text (mean-pooled, L2-normalised, as sentence-transformers).")

    @OptionGroup var options: EmbeddingModelOptions
    @Argument(help: "Texts to embed.") var texts: [String] = []
    @Option(help: "A UTF-8 file with one text per non-empty line.") var file: String?
    @Option(help: "Sentences per batch.") var batchSize = 32
    @Flag(help: "Print a JSON array of {text, token_ids, embedding}.") var json = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard !texts.isEmpty || file != nil else { throw ValidationError("give texts or --file") }
    }

    func run() throws {
        let inputs = texts + (try file.map(TextInput.lines(ofFile:)) ?? [])
        let embedder = try options.load()
        let progress = ProgressLine(total: inputs.count, unit: "sentences")
        let results = try embedder.embed(inputs, batchSize: batchSize) { progress.update($0) }
        progress.finish()
        if json {
            try printJSON(results.map { ["text": $0.text, "token_ids": $0.tokenIDs.map(Int.init), "embedding": $0.vector.map(Double.init)] })
        } else {
            for r in results {
                let head = r.vector.prefix(6).map { String(format: "%+.4f", $0) }.joined(separator: " ")
                print("\(r.text)\n  \(r.tokenIDs.count) tokens, \(r.vector.count) dims: \(head) …")
            }
        }
    }
}
