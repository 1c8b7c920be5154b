import ArgumentParser
import Foundation
import SlimCompress
import SlimCore
import SlimModel
import SlimTrain
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The options a distillation and its benchmark share: teacher, student, batch shape, loss.
struct DistillModelOptions: ParsableArguments {
    @Option(help: "The teacher: a sentence-transformers BERT folder (default: the cached all-MiniLM-L6-v2).") var teacher: String?
    @Option(help: "Layers of the student (at most the teacher's).") var studentLayers = 3
    @Option(help: "Which teacher layers the student starts from: every-other, first or last.") var `init` = "every-other"
    @Option(help: "Sequences per step.") var batch = 16
    @Option(help: "Tokens per sequence at most (longer texts are cut, keeping [SEP]).") var seq = 128
    @Option(help: "Peak learning rate.") var lr = 1e-4
    @Option(help: "Losses, comma-separated: embed-mse and cosine (on the sentence embedding), hidden-mse (layer outputs, see --layer-map), attn-kl (attention distributions, see --attn-layers).")
    var loss = "embed-mse,cosine"
    @Option(help: "With hidden-mse or attn-kl: the teacher layer (0-based) each student layer learns from, comma-separated (default: uniform, 1,3,5 for 3 of 6).")
    var layerMap: String?
    @Option(help: "With attn-kl: the student layers (0-based) whose attention learns their mapped teacher layer's, comma-separated (default: the last, as MiniLM).")
    var attnLayers: String?
    @Option(help: "With attn-kl: its weight (mean KL per head and real token).") var attnWeight = 1.0
    @Option(help: "Run the teacher quantized: int8, int4-g32, int4-g64, int4-g128 (-asym), q8_0, q4_0, q4_1 (default: fp32).")
    var teacherQuantize: String?
    @OptionGroup var backendOption: BackendOption

    var teacherURL: URL { teacher.map { URL(fileURLWithPath: $0) } ?? ModelAssets.miniLM }

    func parsedLosses() throws -> (EmbeddingLoss, hidden: Double, attention: Double) {
        var l = EmbeddingLoss(mse: 0, cosine: 0), hidden = 0.0, attention = 0.0
        for name in loss.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            switch name {
            case "embed-mse", "mse": l.mse = 1
            case "cosine": l.cosine = 1
            case "hidden-mse": hidden = 1
            case "attn-kl":
                guard attnWeight > 0, attnWeight.isFinite else { throw ValidationError("--attn-weight \(attnWeight) must be positive") }
                attention = attnWeight
            default: throw ValidationError("--loss \(name): use embed-mse, cosine, hidden-mse, attn-kl")
            }
        }
        guard l.mse > 0 || l.cosine > 0 || hidden > 0 || attention > 0 else { throw ValidationError("--loss names no loss") }
        if attnLayers != nil && attention == 0 { throw ValidationError("--attn-layers needs attn-kl in --loss") }
        return (l, hidden, attention)
    }

    func options(steps: Int) throws -> DistillationOptions {
        guard let initialization = StudentInitialization(rawValue: self.`init`) else {
            throw ValidationError("--init \(self.`init`): use every-other, first or last")
        }
        var o = DistillationOptions(teacher: teacherURL, studentLayers: studentLayers, steps: steps)
        o.initialization = initialization
        o.batch = batch
        o.sequence = seq
        o.learningRate = lr
        o.teacherQuantization = try teacherQuantize.map { LinearQuantization(format: try QuantFormat(parsing: $0)) }
        (o.losses, o.hiddenWeight, o.attentionWeight) = try parsedLosses()
        if let attnLayers {
            let layers = attnLayers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !layers.isEmpty, layers.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--attn-layers \(attnLayers): comma-separated student layer numbers")
            }
            o.attentionLayers = layers.map { $0! }
        }
        if let layerMap {
            let layers = layerMap.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard layers.allSatisfy({ $0 != nil }) else { throw ValidationError("--layer-map \(layerMap): comma-separated layer numbers") }
            o.layerMap = layers.map { $0! }
        }
        return o
    }
}

struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distil a sentence-transformers BERT into a student of fewer layers (embedding MSE and cosine to the teacher, optionally hidden-state MSE and attention KL).")

    @OptionGroup var model: DistillModelOptions
    @Option(help: "Training text: fortune entries separated by % lines, or one text per line (default: the fortunes 'wisdom' file).")
    var data: String?
    @Option(help: "Training steps (0: write the un-distilled initialisation).") var steps = 200
    @Option(help: "Warm-up steps (linear), then cosine decay to 0 (default: 5% of --steps).") var warmup: Int?
    @Option(help: "AdamW weight decay on the matrices.") var weightDecay: Float = 0.01
    @Option(help: "Global gradient-norm clipping.") var maxGradNorm = 1.0
    @Option(help: "Seed of the data order.") var seed: UInt64 = 0
    @Option(name: .shortAndLong, help: "The student's model folder.") var output: String
    @Option(help: "Write a checkpoint every K steps (and at the end).") var checkpointEvery: Int?
    @Option(help: "The checkpoint file (default: OUTPUT.checkpoint.safetensors beside the output).") var checkpoint: String?
    @Flag(help: "Continue from the checkpoint.") var resume = false
    @Option(help: .hidden) var stopAfter: Int?
    @Flag(help: "Replace an existing output folder.") var overwrite = false
    @Flag(help: "Print one JSON object at the end.") var json = false

    func validate() throws {
        guard steps >= 0, model.batch >= 1, model.seq >= 2 else {
            throw ValidationError("--steps must be at least 0 (0 writes the initialisation), --batch positive, --seq at least 2")
        }
        if let k = checkpointEvery, k < 1 { throw ValidationError("--checkpoint-every must be positive") }
    }

    func run() throws {
        let out = URL(fileURLWithPath: output)
        if FileManager.default.fileExists(atPath: out.path) && !overwrite && stopAfter == nil {
            throw SlimError.io(path: out.path, detail: "the output folder exists; pass --overwrite to replace it")
        }
        var options = try model.options(steps: steps)
        options.warmupSteps = warmup ?? steps / 20
        options.weightDecay = weightDecay
        options.maxGradientNorm = maxGradNorm
        options.seed = seed
        let file = data.map { URL(fileURLWithPath: $0) } ?? Calibration.defaultFile
        let texts = try Calibration.samples(from: file, count: .max)
        let backend = try model.backendOption.open()
        let run = try Distillation(options: options, texts: texts, backend: backend)
        let checkpointURL = checkpoint.map { URL(fileURLWithPath: $0) }
            ?? out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + ".checkpoint.safetensors")
        if resume {
            guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw SlimError.io(path: checkpointURL.path, detail: "--resume: no checkpoint here")
            }
            try run.resume(from: checkpointURL)
            printError("resumed at step \(run.step) of \(steps) from \(checkpointURL.path)")
        }
        let line = DistillProgress(total: steps)
        let last = min(steps, stopAfter ?? steps)
        while run.step < last {
            let r = try run.trainStep()
            line.update(r)
            if let k = checkpointEvery, r.step % k == 0 || r.step == last { try run.saveCheckpoint(to: checkpointURL) }
        }
        line.finish()
        guard run.step == steps else {
            printError("stopped after step \(run.step) of \(steps); continue with --resume")
            return
        }
        try run.writeModel(to: out)
        let first = run.curve.first?.loss ?? .nan, final = run.curve.last?.loss ?? .nan
        let speeds = run.curve.map(\.tokensPerSecond).sorted()
        let median = speeds.isEmpty ? 0 : speeds[speeds.count / 2]
        if json {
            var summary: [String: Any] = ["output": out.path, "steps": run.step, "median_tokens_per_s": median,
                                          "backend": backend.id.kind.rawValue, "student_layers": options.studentLayers,
                                          "init": options.initialization.rawValue]
            if run.step > 0 { summary["first_loss"] = first; summary["final_loss"] = final }
            if let a = run.attentionCurve.first, let b = run.attentionCurve.last {
                summary["first_attention_kl"] = a
                summary["final_attention_kl"] = b
            }
            try printJSON(summary)
        } else {
            let attention = run.attentionCurve.count > 1
                ? String(format: " (attention KL %.5f → %.5f)", run.attentionCurve.first!, run.attentionCurve.last!) : ""
            print(String(format: "%@: %d-layer student, %d steps, loss %.5f → %.5f%@, %.0f tokens/s (median); loss curve in loss.csv and loss.svg",
                         out.path, options.studentLayers, run.step, first, final, attention, median))
        }
    }
}

/// Step, loss, tokens/s and ETA on one redrawn stderr line, only on a terminal.
final class DistillProgress {
    private let total: Int
    private let start = DispatchTime.now().uptimeNanoseconds
    private let enabled = isatty(STDERR_FILENO) == 1
    private var done = 0

    init(total: Int) { self.total = total }

    func update(_ r: StepRecord) {
        guard enabled else { return }
        done += 1
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let eta = elapsed / Double(done) * Double(total - r.step)
        let text = String(format: "\rstep %d/%d  loss %.5f  lr %.2e  %.0f tokens/s  ETA %.0f s   ", r.step, total, r.loss,
                          r.learningRate, r.tokensPerSecond, eta)
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
