import ArgumentParser
import Foundation
import SlimCompress
import SlimCore
import SlimModel
import SlimParallel
import SlimTrain

/// What `slim distill` and `slim finetune` share past the model: the data,
/// the schedule, checkpoints and resume, and the output folder.
struct TrainingRunOptions: ParsableArguments {
    @Option(help: "Training text: fortune entries separated by % lines, or one text per line (default: the fortunes 'wisdom' file).")
    var data: String?
    @Option(help: "Training steps (0: write the starting model).") var steps = 200
    @Option(help: "Warm-up steps (linear), then cosine decay to 0 (default: 5% of --steps).") var warmup: Int?
    @Option(help: "AdamW weight decay on the matrices.") var weightDecay: Float = 0.01
    @Option(help: "Global gradient-norm clipping.") var maxGradNorm = 1.0
    @Option(help: "Seed of the data order.") var seed: UInt64 = 0
    @Option(name: .shortAndLong, help: "The trained model's folder.") var output: String
    @Option(help: "Write a checkpoint every K steps (and at the end).") var checkpointEvery: Int?
    @Option(help: "The checkpoint file (default: OUTPUT.checkpoint.safetensors beside the output).") var checkpoint: String?
    @Flag(help: "Continue from the checkpoint.") var resume = false
    @Option(help: .hidden) var stopAfter: Int?
    @Flag(help: "Replace an existing output folder.") var overwrite = false
    @Flag(help: "Print one JSON object at the end.") var json = false
    @OptionGroup var devicesOption: DevicesOption

    func validate(_ model: DistillModelOptions) throws {
        guard steps >= 0, model.batch >= 1, model.seq >= 2 else {
            throw ValidationError("--steps must be at least 0 (0 writes the starting model), --batch positive, --seq at least 2")
        }
        if let k = checkpointEvery, k < 1 { throw ValidationError("--checkpoint-every must be positive") }
    }

    /// Trains `options` to the end (or `--stop-after`), checkpointing and
    /// resuming as asked, then writes the model; `summary` adds the command's own JSON fields.
    /// With `--devices` a replica per device trains its share of every global batch, the
    /// gradients summed exactly over the replicas as over MPI ranks; device 0's replica writes.
    func execute(_ base: DistillationOptions, backend open: () throws -> any Backend,
                 summary: [String: Any]) throws {
        let out = URL(fileURLWithPath: output)
        let file = data.map { URL(fileURLWithPath: $0) } ?? Calibration.defaultFile
        let inputs = [base.teacher, file] + [base.studentSource].compactMap { $0 }
        // Locked for the whole run: a second run to the same folder fails now, not at the end.
        // Rank 0 alone writes (and claims); the others train their shares and write nothing.
        let claim = Job.isRoot ? try OutputPolicy.claimFolder(out, inputs: inputs, overwrite: overwrite) : nil
        defer { claim?.release() }
        var options = base
        options.warmupSteps = warmup ?? steps / 20
        options.weightDecay = weightDecay
        options.maxGradientNorm = maxGradNorm
        options.seed = seed
        let texts = try Calibration.samples(from: file, count: .max)
        guard let devices = try devicesOption.selected() else {
            return try train(options, texts: texts, inputs: inputs, backend: try open(), ranks: Job.collective, summary: summary)
        }
        // Each replica copies the values (its own backend and rank replace the shared ones).
        let shared = UncheckedSendable((self, options, texts, inputs, summary))
        try DeviceReplicas.run(devices) { backend, ranks in
            let (run, options, texts, inputs, summary) = shared.value
            try run.train(options, texts: texts, inputs: inputs, backend: backend, ranks: ranks, summary: summary)
        }
    }

    /// One rank's (or device replica's) training loop; its rank 0 checkpoints, writes and reports.
    private func train(_ options: DistillationOptions, texts: [String], inputs: [URL], backend: any Backend, ranks: any Collective,
                       summary: [String: Any]) throws {
        let out = URL(fileURLWithPath: output)
        let run = try Distillation(options: options, texts: texts, backend: backend, collective: ranks)
        let checkpointURL = checkpoint.map { URL(fileURLWithPath: $0) }
            ?? out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + ".checkpoint.safetensors")
        // The checkpoint is written only with --checkpoint-every and read only with --resume.
        let checkpointClaim = ranks.isRoot && (checkpointEvery != nil || resume)
            ? try run.claimCheckpoint(checkpointURL, inputs: inputs, output: out, resume: resume, overwrite: overwrite) : nil
        defer { checkpointClaim?.release() }
        if resume {
            guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw SlimError.io(path: checkpointURL.path, detail: "--resume: no checkpoint here")
            }
            try run.resume(from: checkpointURL)
            if ranks.isRoot { printError("resumed at step \(run.step) of \(steps) from \(checkpointURL.path)") }
        }
        let line = DistillProgress(total: steps, shown: ranks.isRoot)
        let last = min(steps, stopAfter ?? steps)
        while run.step < last {
            let r = try run.trainStep()
            line.update(r)
            try TestHooks.stopIfAsked(rank: ranks.rank, step: r.step)
            if ranks.isRoot, let k = checkpointEvery, r.step % k == 0 || r.step == last { try run.saveCheckpoint(to: checkpointURL) }
        }
        line.finish()
        guard ranks.isRoot else { return }
        guard run.step == steps else {
            printError("stopped after step \(run.step) of \(steps); continue with --resume")
            return
        }
        let report = try run.writeModel(to: out)
        let first = run.curve.first?.loss ?? .nan, final = run.curve.last?.loss ?? .nan
        let speeds = run.curve.map(\.tokensPerSecond).sorted()
        let median = speeds.isEmpty ? 0 : speeds[speeds.count / 2]
        if json {
            var fields: [String: Any] = ["output": out.path, "steps": run.step, "median_tokens_per_s": median,
                                         "backend": backend.id.kind.rawValue, "method": report.method, "format": report.format,
                                         "bytes": report.bytesAfter, "allreduce_bytes_per_step": run.allReduceBytesPerStep]
            if run.step > 0 { fields["first_loss"] = first; fields["final_loss"] = final }
            if let a = run.attentionCurve.first, let b = run.attentionCurve.last {
                fields["first_attention_kl"] = a
                fields["final_attention_kl"] = b
            }
            try printJSON(fields.merging(summary) { $1 })
        } else {
            let attention = run.attentionCurve.count > 1
                ? String(format: " (attention KL %.5f → %.5f)", run.attentionCurve.first!, run.attentionCurve.last!) : ""
            // No step, no loss: `--steps 0` writes the starting model (it printed "loss nan → nan").
            let loss = run.curve.isEmpty ? "no loss (the starting model)" : String(format: "loss %.5f → %.5f", first, final)
            print(String(format: "%@: %@ (%@), %d-layer model, %d steps, %@%@, %.0f tokens/s (median), %d bytes; loss curve in loss.csv and loss.svg",
                         out.path, report.method, report.format, run.student.config.layers, run.step, loss, attention, median,
                         report.bytesAfter))
        }
    }
}

/// Quantization-aware training: the student trains through a format's fake
/// quantization and is written packed.
struct StudentQuantizationOptions: ParsableArguments {
    @Option(name: [.customLong("student-quant"), .customLong("quant")],
            help: "Train the student through fake quantization and write it packed: int8, int4-g32, int4-g64, int4-g128 (-asym).")
    var quant: String?
    @Flag(help: "With --student-quant/--quant: learn the quantization scales too (LSQ).") var learnScales = false

    func apply(to options: inout DistillationOptions, flag: String) throws {
        guard let quant else {
            if learnScales { throw ValidationError("--learn-scales needs \(flag)") }
            return
        }
        options.studentQuantization = try QuantFormat(parsing: quant)
        options.learnScales = learnScales
    }
}
