import ArgumentParser
import Foundation
import SlimCompress
import SlimCore
import SlimModel

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Compare a compressed model with its original: encoders by embedding cosine and Lee similarity Spearman; decoders by perplexity, KL divergence of the next-token distributions and top-1 agreement; size, speed.")

    @Argument(help: "The original model (an encoder folder; or a decoder: GGUF file or Llama folder).") var original: String
    @Argument(help: "The compressed model folder.") var compressed: String
    @Option(help: "Held-out texts: encoders, one per line (default: the 50 Lee corpus documents); decoders, a text whose perplexity is measured (default: the fortunes 'wisdom' file).")
    var data: String?
    @Option(help: "Decoders: tokens per perplexity chunk.") var ctx = 512
    @Option(help: "Decoders: chunks evaluated (default: all), per text when slices or perturbations are evaluated.") var chunks: Int?
    @Option(help: ArgumentHelp("Evaluate slices of text on their own: DIR (every text file in it is one slice, e.g. the fortunes folder) or by-length (the --data texts bucketed by token count).",
                               discussion: "A slice is flagged when its degradation (decoders: mean KL divergence) is more than twice the one pooled over all slices."))
    var slices: String?
    @Flag(help: "Decoders: also compare the models on perturbed copies of --data (typos, case, whitespace, homoglyphs, accents, truncation).")
    var robustness = false
    @Option(help: "Seed of the perturbations.") var seed: UInt64 = 0
    @Option(help: "Decoders: the positions of largest KL divergence shown, with context.") var worst = 5
    @Flag(help: "Do not record the results in the compressed folder's MODEL_CARD.md and model_card.json.") var noCard = false
    @OptionGroup var backendOption: BackendOption
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        if try ModelFamily(path: URL(fileURLWithPath: original)) == .decoder { return try evaluateDecoders() }
        let backend = try backendOption.open()
        let a = try SentenceEmbedder.load(folder: URL(fileURLWithPath: original), backend: backend)
        let b = try SentenceEmbedder.load(folder: URL(fileURLWithPath: compressed), backend: backend)
        let lee = try? Evaluation.LeeBenchmark(folder: Evaluation.leeFolder)
        guard let texts = try data.map(TextInput.lines(ofFile:)) ?? lee?.documents, !texts.isEmpty else {
            throw ValidationError("no held-out texts: pass --data FILE (the Lee corpus was not found; run scripts/setup.sh)")
        }
        func size(_ folder: String) -> Int {
            HuggingFaceCheckpoint.weightBytes(folder: URL(fileURLWithPath: folder))
        }
        let r = try Evaluation.compare(original: a, compressed: b, texts: texts, lee: lee,
                                       bytesOriginal: size(original), bytesCompressed: size(compressed))
        if json { try printJSON(r.json) } else {
            print(String(format: "cosine to the original over %d texts: mean %.5f, min %.5f", r.texts, r.meanCosine, r.minCosine))
            if let so = r.spearmanOriginal, let sc = r.spearmanCompressed {
                print(String(format: "Lee similarity Spearman: original %.4f, compressed %.4f", so, sc))
            }
            print(String(format: "size: %d → %d bytes (%.3fx); speed: %.1f → %.1f texts/s", r.bytesOriginal, r.bytesCompressed,
                         Double(r.bytesCompressed) / Double(max(r.bytesOriginal, 1)), r.textsPerSecondOriginal, r.textsPerSecondCompressed))
        }
    }
}
