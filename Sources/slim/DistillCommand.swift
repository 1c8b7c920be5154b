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
    @Option(help: "Layers of the student (at most the teacher's; default 3). Not for finetune, which keeps every layer.")
    var studentLayers: Int?
    @Option(help: "Which teacher layers the student starts from: every-other (default), first or last. Not for finetune.")
    var `init`: String?
    @Option(help: "Sequences per step.") var batch = 16
    @Option(help: "Tokens per sequence at most (longer texts are cut, keeping [SEP]).") var seq = 128
    @Option(help: "Peak learning rate.") var lr = 1e-4
    @Option(help: "Losses, comma-separated: embed-mse and cosine (on the sentence embedding), hidden-mse (layer outputs, see --layer-map), attn-kl (attention distributions, see --attn-layers). Default: embed-mse,cosine; finetune: embed-mse,cosine,hidden-mse.")
    var loss: String?
    /// The losses when --loss is not given (finetune adds every layer's hidden MSE).
    static let defaultLoss = "embed-mse,cosine"
    var losses: String { loss ?? Self.defaultLoss }
    @Option(help: "With hidden-mse or attn-kl: the teacher layer (0-based) each student layer learns from, comma-separated (default: uniform, 1,3,5 for 3 of 6).")
    var layerMap: String?
    @Option(help: "With attn-kl: the student layers (0-based) whose attention learns their mapped teacher layer's, comma-separated (default: the last, as MiniLM).")
    var attnLayers: String?
    @Option(help: "With attn-kl: its weight (mean KL per head and real token).") var attnWeight = 1.0
    @Flag(help: "With hidden-mse: compare through learned projections into the teacher's width (TinyBERT's W_h, identity at the start; training only).")
    var hiddenProjection = false
    @Option(help: "Run the teacher quantized: int8, int4-g32, int4-g64, int4-g128 (-asym), q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k (default: fp32).")
    var teacherQuantize: String?
    @OptionGroup var backendOption: BackendOption

    var teacherURL: URL { teacher.map { URL(fileURLWithPath: $0) } ?? ModelAssets.miniLM }

    func parsedLosses(default fallback: String = defaultLoss) throws -> (EmbeddingLoss, hidden: Double, attention: Double) {
        var l = EmbeddingLoss(mse: 0, cosine: 0), hidden = 0.0, attention = 0.0
        for name in (loss ?? fallback).split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
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
        if layerMap != nil && hidden == 0 && attention == 0 { throw ValidationError("--layer-map needs hidden-mse or attn-kl in --loss") }
        return (l, hidden, attention)
    }

    func options(steps: Int, defaultLoss: String = defaultLoss) throws -> DistillationOptions {
        let name = self.`init` ?? StudentInitialization.everyOther.rawValue
        guard let initialization = StudentInitialization(rawValue: name) else {
            throw ValidationError("--init \(name): use every-other, first or last")
        }
        var o = DistillationOptions(teacher: teacherURL, studentLayers: studentLayers ?? 3, steps: steps)
        o.initialization = initialization
        o.batch = batch
        o.sequence = seq
        o.learningRate = lr
        o.teacherQuantization = try teacherQuantize.map { LinearQuantization(format: try QuantFormat(parsing: $0)) }
        (o.losses, o.hiddenWeight, o.attentionWeight) = try parsedLosses(default: defaultLoss)
        if hiddenProjection && o.hiddenWeight == 0 { throw ValidationError("--hidden-projection needs hidden-mse in --loss") }
        o.hiddenProjection = hiddenProjection
        o.attentionLayers = try attnLayers.map { try Self.layers($0, flag: "--attn-layers", of: "student") }
        o.layerMap = try layerMap.map { try Self.layers($0, flag: "--layer-map", of: "teacher") }
        return o
    }

    /// Comma-separated layer numbers; an empty entry ("1,,3") is a missing layer, not nothing.
    static func layers(_ text: String, flag: String, of model: String) throws -> [Int] {
        let layers = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard layers.allSatisfy({ $0 != nil }) else { throw ValidationError("\(flag) \(text): comma-separated \(model) layer numbers") }
        return layers.map { $0! }
    }
}

struct DistillCommand: ParsableCommand, SplitsAcrossRanks {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distil a sentence-transformers BERT into a student of fewer layers (embedding MSE and cosine to the teacher, optionally hidden-state MSE and attention KL).")

    @OptionGroup var model: DistillModelOptions
    @OptionGroup var quantization: StudentQuantizationOptions
    @OptionGroup var training: TrainingRunOptions

    func validate() throws { try training.validate(model) }

    func run() throws {
        var options = try model.options(steps: training.steps)
        try quantization.apply(to: &options, flag: "--student-quant")
        try training.execute(options, backend: { try model.backendOption.open() },
                             summary: ["student_layers": options.studentLayers, "init": options.initialization.rawValue])
    }
}

/// Step, loss, tokens/s and ETA on one redrawn stderr line, only on a terminal.
final class DistillProgress {
    private let total: Int
    private let start = DispatchTime.now().uptimeNanoseconds
    private let enabled: Bool
    private var done = 0

    /// `shown`: this rank or replica reports progress (rank 0 alone does).
    init(total: Int, shown: Bool) {
        self.total = total
        enabled = shown && isatty(STDERR_FILENO) == 1
    }

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
