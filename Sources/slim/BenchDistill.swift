import ArgumentParser
import Foundation
import SlimCore
import SlimModel
import SlimTrain

struct BenchDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Full distillation steps (teacher forward, student forward, backward, AdamW) on full-length sequences, after a warm-up step.")

    @OptionGroup var model: DistillModelOptions
    @Option(help: "Timed steps (the median is reported).") var runs = 5
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be positive") }
        let options = try model.options(steps: 1_000_000)
        // Texts long enough to fill --seq, so every step computes batch × seq tokens as the PyTorch peer does.
        let text = Array(repeating: "Sentence number seven talks about compressing transformer models on small machines.",
                         count: model.seq / 10 + 1).joined(separator: " ")
        let texts = (0..<max(model.batch, 1) * 2).map { "\($0) " + text }
        let run = try Distillation(options: options, texts: texts, backend: try model.backendOption.open())
        let ms = try medianMilliseconds(warmup: 1, runs: runs) { try run.trainStep() }
        let tokens = model.batch * model.seq
        let record: [String: Any] = [
            "backend": run.backend.id.kind.rawValue, "device": run.backend.id.name, "teacher_layers": run.teacher.encoder.config.layers,
            "student_layers": options.studentLayers, "batch": model.batch, "seq": model.seq, "tokens": tokens,
            "median_ms": ms, "tokens_per_s": Double(tokens) / (ms / 1e3), "runs": runs, "loss": model.losses,
            "attention_layers": run.resolvedAttentionLayers,
        ]
        if json {
            try printJSON(record)
        } else {
            print(String(format: "%@ distill step: %d-layer teacher forward + %d-layer student forward, backward, AdamW, batch %d × seq %d: %.1f ms, %.0f tokens/s",
                         run.backend.id.kind.rawValue, run.teacher.encoder.config.layers, options.studentLayers, model.batch, model.seq,
                         ms, record["tokens_per_s"] as! Double))
        }
    }
}
