import ArgumentParser
import Foundation
import SlimCore
import SlimModel
import SlimTrain

/// Training with the compression in the loop (issue #9): a compressed model
/// at its full depth learns from the original as teacher, through fake
/// quantization (`--quant`) and/or with its pruning mask held fixed (`--keep-mask`).
struct FinetuneCommand: ParsableCommand, SplitsAcrossRanks {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a pruned or quantized BERT against the original as teacher: quantization-aware training (--quant) and sparse fine-tuning (--keep-mask).")

    @Argument(help: "The model to fine-tune: a pruned, RTN or GPTQ folder of the teacher (or the teacher itself with --quant).")
    var model: String
    @OptionGroup var teacher: DistillModelOptions
    @OptionGroup var quantization: StudentQuantizationOptions
    @Flag(help: "Keep every zero weight of the linear layers at zero (after slim prune: N:M or unstructured).") var keepMask = false
    @OptionGroup var training: TrainingRunOptions

    func validate() throws {
        try training.validate(teacher)
        guard teacher.studentLayers == nil, teacher.`init` == nil else {
            throw ValidationError("finetune trains every layer of MODEL; --student-layers and --init are for slim distill")
        }
        guard teacher.teacher != nil else { throw ValidationError("finetune needs --teacher ORIGINAL (the model MODEL was compressed from)") }
        guard quantization.quant != nil || keepMask else {
            throw ValidationError("finetune needs --quant FORMAT (quantization-aware training) and/or --keep-mask (sparse fine-tuning)")
        }
    }

    func run() throws {
        let source = URL(fileURLWithPath: model)
        guard case let .bert(config) = try ModelConfig.load(source.appendingPathComponent("config.json")) else {
            throw SlimError.unsupported(op: "finetune", backend: "model", reason: "\(source.path) is not a BERT encoder")
        }
        // A full-depth student maps layer i to teacher layer i: every layer's output has a target.
        var options = try teacher.options(steps: training.steps, defaultLoss: "embed-mse,cosine,hidden-mse")
        options.studentLayers = config.layers
        options.studentSource = source
        options.keepMask = keepMask
        try quantization.apply(to: &options, flag: "--quant")
        try training.execute(options, backend: { try teacher.backendOption.open() },
                             summary: ["model": source.path, "keep_mask": keepMask, "learned_scales": quantization.learnScales])
    }
}
