import ArgumentParser
import Foundation
import SlimCompress
import SlimCore
import SlimModel

struct EvalCommand: ParsableCommand, SplitsAcrossRanks {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Compare a compressed model with its original: encoders by embedding cosine and Lee similarity Spearman; decoders by perplexity, KL divergence of the next-token distributions and top-1 agreement; size, speed. --slices, --robustness and --worst show where compression hurts; the results are recorded in the compressed folder's model card.")

    @Argument(help: "The original model (an encoder folder; or a decoder: GGUF file or Llama folder).") var original: String
    @Argument(help: "The compressed model folder.") var compressed: String
    @Option(help: "Held-out texts: encoders, one per line (default: the 50 Lee corpus documents); decoders, a text whose perplexity is measured (default: the fortunes 'wisdom' file).")
    var data: String?
    @Option(help: "Decoders: tokens per perplexity chunk.") var ctx = 512
    @Option(help: "Decoders: what both models' float linear weights run as: stored (a bf16 or f16 checkpoint keeps its 16-bit weights, the same values at half an fp32 copy's memory), f32, bf16 or f16.")
    var weights: String = "stored"
    @Option(help: "Decoders: chunks evaluated (default: all), per text when slices or perturbations are evaluated.") var chunks: Int?
    @Option(help: ArgumentHelp("Evaluate slices of text on their own: DIR (every text file in it is one slice, e.g. the fortunes folder) or by-length (the --data texts bucketed by token count).",
                               discussion: "A slice is flagged when its degradation (encoders: 1 − mean cosine to the original's embeddings; decoders: mean KL divergence) is more than twice the one pooled over all slices."))
    var slices: String?
    @Option(help: "Encoders: at most N texts per slice, evenly spaced through it (default: all).") var maxPerSlice: Int?
    @Flag(help: "Also compare the models on perturbed copies of --data (typos, case, whitespace, homoglyphs, accents, truncation).")
    var robustness = false
    @Option(help: "Seed of the perturbations.") var seed: UInt64 = 0
    @Option(help: "The inputs where the models differ most that are shown: encoders, texts of lowest cosine; decoders, positions of largest KL divergence, with context.")
    var worst = 5
    @Flag(help: "Do not record the results in the compressed folder's MODEL_CARD.md and model_card.json.") var noCard = false
    @OptionGroup var backendOption: BackendOption
    @OptionGroup var devicesOption: DevicesOption
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if let maxPerSlice, maxPerSlice < 1 { throw ValidationError("--max-per-slice \(maxPerSlice): at least one text per slice") }
        if maxPerSlice != nil && slices == nil { throw ValidationError("--max-per-slice bounds the texts of --slices, which is not given") }
        guard worst >= 0 else { throw ValidationError("--worst \(worst): a count of zero or more") }
    }

    func run() throws {
        if try ModelFamily(path: URL(fileURLWithPath: original)) == .decoder { return try evaluateDecoders() }
        try evaluateEncoders()
    }
}
