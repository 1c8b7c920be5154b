import Foundation
import SlimCore
import SlimCompress
import SlimModel
import SlimParallel

/// What a distillation run does: everything that shapes its loss curve.
public struct DistillationOptions: Sendable {
    public var teacher: URL
    public var studentLayers: Int
    public var initialization: StudentInitialization = .everyOther
    public var steps: Int
    public var batch: Int = 16
    public var sequence: Int = 128
    public var learningRate: Double = 1e-4
    public var warmupSteps: Int = 0
    public var weightDecay: Float = 0.01
    public var maxGradientNorm: Double = 1
    public var losses = EmbeddingLoss()
    /// Weight of the hidden-state MSE (0: off): student layer `i`'s output against teacher layer `layerMap[i]`'s.
    public var hiddenWeight: Double = 0
    /// The teacher layer whose output each student layer learns (nil: uniform, `(i + 1)·L/N − 1`, TinyBERT's map).
    public var layerMap: [Int]?
    /// Weight of the attention KL (0: off): the attention distributions of the
    /// student layers `attentionLayers` against those of their mapped teacher layers (the layer map's).
    public var attentionWeight: Double = 0
    /// Student layers whose attention learns the teacher's (nil: the last, as MiniLM does).
    public var attentionLayers: [Int]?
    public var seed: UInt64 = 0
    /// Run the teacher with quantized linear layers (the student still starts from its fp32 weights).
    public var teacherQuantization: LinearQuantization?
    /// Fine-tuning: the student starts from this folder at its full depth (a
    /// pruned, RTN or GPTQ result of the teacher) instead of teacher layers.
    public var studentSource: URL?
    /// Train the student through this format's fake quantization and export it packed (QAT).
    public var studentQuantization: QuantFormat?
    /// With QAT: learn the quantization scales too (LSQ); else they stay at their start.
    public var learnScales = false
    /// Keep the student's zero weights at zero (sparse fine-tuning of a pruned model).
    public var keepMask = false
    /// Compare student layer outputs with the teacher's through learned
    /// projections (TinyBERT's `W_h`, identity at the start), trained with the
    /// hidden-state MSE and not written with the model.
    public var hiddenProjection = false
    public init(teacher: URL, studentLayers: Int, steps: Int) {
        self.teacher = teacher
        self.studentLayers = studentLayers
        self.steps = steps
    }
}

/// One step's record on the loss curve.
public struct StepRecord: Sendable, Equatable {
    public let step: Int, loss: Double, learningRate: Double, gradientNorm: Double
    /// Tokens computed (padded batch × sequence) per second of this step.
    public let tokensPerSecond: Double

    var csvLine: String { "\(step),\(loss),\(learningRate),\(gradientNorm),\(tokensPerSecond)" }
    static let csvHeader = "step,loss,learning_rate,gradient_norm,tokens_per_s"
}

/// A distillation run: the teacher (inference encoder, no gradients), the
/// student, the data order, and the loss curve so far. Deterministic: step `s`
/// always sees the same batch, so a resumed run repeats an uninterrupted one.
public final class Distillation {
    public let options: DistillationOptions
    public let teacher: SentenceEmbedder
    public let student: StudentBert
    public let backend: any Backend
    /// The ranks training together: each takes its contiguous share of every global batch, and the
    /// gradients are summed exactly over them (``ExactSum``) before clipping and AdamW, so every rank
    /// applies the same update and holds the same weights.
    public let collective: any Collective
    /// Token ids of every training text, truncated to the sequence length.
    let sequences: [[Int32]]
    public private(set) var curve: [StepRecord] = []
    /// Steps done so far.
    public var step: Int { curve.count }
    let optimizer: AdamW
    let schedule: LearningRateSchedule
    /// The teacher layer each student layer's output learns, with hidden-state MSE.
    public let resolvedLayerMap: [Int]
    /// The student layers with an attention KL (empty when it is off).
    public let resolvedAttentionLayers: [Int]
    /// The attention-KL part of each step's loss since this process started (not in checkpoints).
    public private(set) var attentionCurve: [Double] = []

    public init(options o: DistillationOptions, texts: [String], backend: any Backend,
                collective: any Collective = SingleProcess()) throws {
        guard o.steps >= 0, o.batch >= 1, o.sequence >= 2 else {
            throw SlimError.invalidArgument("distill: --steps must be at least 0, --batch at least 1 and --seq at least 2")
        }
        if collective.size > 1 {
            guard o.batch >= collective.size else {
                throw SlimError.invalidArgument("--batch \(o.batch) for \(collective.size) ranks: each rank needs at least one sequence of the global batch")
            }
            // Those losses are means over real tokens, whose count differs between ranks' shares: summing
            // the ranks' gradients would need one weight per loss term. The embedding losses are means over sentences.
            guard o.hiddenWeight == 0, o.attentionWeight == 0 else {
                throw SlimError.unsupported(op: "distill over \(collective.size) ranks", backend: "parallel",
                                            reason: "hidden-mse and attn-kl are token means, not split across ranks yet; use mse/cosine or one rank")
            }
        }
        options = o
        self.backend = backend
        self.collective = collective
        teacher = try SentenceEmbedder.load(folder: o.teacher, backend: backend, quantization: o.teacherQuantization)
        guard teacher.pooling == .mean else {
            throw SlimError.unsupported(op: "distill", backend: "model", reason: "a teacher with \(teacher.pooling) pooling (the student learns mean-pooled embeddings)")
        }
        guard o.sequence <= teacher.encoder.config.maxPositions else {
            throw SlimError.invalidArgument("--seq \(o.sequence) exceeds the teacher's \(teacher.encoder.config.maxPositions) positions")
        }
        student = try StudentBert.start(o, backend: backend)
        if o.hiddenProjection {
            guard o.hiddenWeight > 0 else { throw SlimError.invalidArgument("a hidden projection needs the hidden-state MSE (hidden-mse)") }
            try student.addHiddenProjections(Array(0..<o.studentLayers), teacherWidth: teacher.encoder.config.hiddenSize)
        }
        let length = o.sequence, tokenizer = teacher.tokenizer
        sequences = texts.map { tokenizer.encode($0) }.filter { $0.count > 2 }.map { ids in
            ids.count <= length ? ids : Array(ids.prefix(length - 1)) + [ids.last!]
        }
        guard !sequences.isEmpty else { throw SlimError.invalidArgument("distill: the training data holds no text") }
        let teacherLayers = teacher.encoder.config.layers
        resolvedLayerMap = o.layerMap ?? (0..<o.studentLayers).map { ($0 + 1) * teacherLayers / o.studentLayers - 1 }
        // Only the hidden-state and attention losses read the map; the default one fails only for a student deeper than its teacher.
        let mapped = o.hiddenWeight > 0 || o.attentionWeight > 0
        if mapped, resolvedLayerMap.count != o.studentLayers || !resolvedLayerMap.allSatisfy({ (0..<teacherLayers).contains($0) }) {
            let wanted = "one teacher layer in 0..<\(teacherLayers) for each of the \(o.studentLayers) student layers"
            throw SlimError.invalidArgument(o.layerMap.map { "--layer-map \($0.map(String.init).joined(separator: ",")): \(wanted)" }
                ?? "the student has \(o.studentLayers) layers but the teacher only \(teacherLayers), so the default layer map leaves some student layers without a teacher layer to learn from: give --layer-map, \(wanted)")
        }
        resolvedAttentionLayers = o.attentionWeight > 0 ? (o.attentionLayers ?? [o.studentLayers - 1]) : []
        for i in resolvedAttentionLayers {
            guard (0..<o.studentLayers).contains(i) else {
                throw SlimError.invalidArgument("--attn-layers \(i): the student has layers 0..<\(o.studentLayers)")
            }
            let j = resolvedLayerMap[i], teacherHeads = teacher.encoder.layerWidths[j].heads
            guard teacherHeads == student.config.heads else {
                throw SlimError.unsupported(op: "distill --loss attn-kl", backend: "model",
                                            reason: "student layer \(i) has \(student.config.heads) heads but its teacher layer \(j) has \(teacherHeads): the attention KL compares head by head")
            }
        }
        guard Set(resolvedAttentionLayers).count == resolvedAttentionLayers.count else {
            throw SlimError.invalidArgument("--attn-layers \(resolvedAttentionLayers): each student layer at most once")
        }
        optimizer = AdamW(weightDecay: o.weightDecay, maxGradientNorm: o.maxGradientNorm)
        schedule = LearningRateSchedule(peak: o.learningRate, warmupSteps: o.warmupSteps, totalSteps: o.steps)
    }

    /// The sequences of 1-based step `step`: a seeded shuffle of the data per epoch, read in order.
    func batch(at step: Int) -> [[Int32]] {
        let n = sequences.count
        return (0..<options.batch).map { i in
            let position = (step - 1) * options.batch + i
            let epoch = position / n
            var rng = SeededGenerator(seed: options.seed &+ UInt64(epoch) &* 0x9E37_79B9)
            // Shuffled per epoch; cached for the epoch in use.
            return sequences[permutation(epoch: epoch, rng: &rng)[position % n]]
        }
    }

    private var cachedPermutation: (epoch: Int, order: [Int])?
    private func permutation(epoch: Int, rng: inout SeededGenerator) -> [Int] {
        if let c = cachedPermutation, c.epoch == epoch { return c.order }
        let order = Array(0..<sequences.count).shuffled(using: &rng)
        cachedPermutation = (epoch, order)
        return order
    }

    /// One training step: teacher embeddings, student forward and backward, clipping, AdamW.
    @discardableResult
    public func trainStep() throws -> StepRecord {
        let s = step + 1
        let start = DispatchTime.now().uptimeNanoseconds
        let global = batch(at: s)
        let share = collective.share(of: global.count)
        let seqs = Array(global[share])
        let encoderBatch = EncoderBatch(sequences: seqs, padID: teacher.tokenizer.padID)
        let targets: [[Float]], hidden: [Int: Tensor], attention: [Int: Tensor]
        if options.hiddenWeight > 0 || !resolvedAttentionLayers.isEmpty {
            (targets, hidden, attention) = try teacherStates(encoderBatch)
        } else {
            (targets, hidden, attention) = (try teacher.embed(tokenized: seqs), [:], [:])
        }
        var loss = try student.lossAndGradients(encoderBatch, targets: targets, losses: options.losses, hidden: hidden,
                                                hiddenWeight: options.hiddenWeight, attention: attention,
                                                attentionWeight: options.attentionWeight)
        // Tokens run (padded) by every rank this step, for the throughput of the whole job.
        var tokens = encoderBatch.batch * encoderBatch.sequence
        if collective.size > 1 {
            (loss, tokens) = try allReduce(loss: loss, weight: Double(share.count) / Double(global.count), tokens: tokens, step: s)
        }
        if !resolvedAttentionLayers.isEmpty { attentionCurve.append(student.lastAttentionLoss) }
        let rate = schedule.rate(at: s)
        try student.applyMasks(toGradients: true)
        let norm = try optimizer.step(student.parameters, step: s, learningRate: rate, on: backend)
        try student.applyMasks(toGradients: false)
        try backend.synchronize()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let record = StepRecord(step: s, loss: loss, learningRate: rate, gradientNorm: norm,
                                tokensPerSecond: Double(tokens) / seconds)
        curve.append(record)
        return record
    }

    /// The global batch's loss and gradients from this rank's share's: each rank's are means over its
    /// sentences, weighted by its share of the batch and summed exactly over the ranks (the same bits on
    /// every rank), then written back as this rank's gradients. `tokens` (this rank's) rides along, summed.
    private func allReduce(loss: Double, weight: Double, tokens: Int, step: Int) throws -> (loss: Double, tokens: Int) {
        let parameters = student.parameters
        var flat: [Double] = [loss * weight, Double(tokens)]
        for p in parameters { flat += try backend.floats(p.grad).map { Double($0) * weight } }
        var sum = ExactSum(count: flat.count, name: "gradients")
        try sum.add(flat)
        let total = try sum.total(over: collective, step: "step \(step): summing gradients")
        var offset = 2
        for p in parameters {
            let n = p.grad.elementCount
            try backend.write(total[offset..<offset + n].map { Float($0) }, to: p.grad)
            offset += n
        }
        return (total[0], Int(total[1]))
    }

    /// The bytes each rank sends per step in the gradient sum: 3 int64 limbs per value (the gradients, the loss and the token count).
    public var allReduceBytesPerStep: Int { 24 * (2 + student.parameters.reduce(0) { $0 + $1.grad.elementCount }) }

    /// The teacher's normalised mean-pooled embeddings and, per student layer,
    /// the output of its mapped teacher layer and (attention KL) its attention
    /// logits, in one teacher forward: a layer's input, seen by the encoder's
    /// observer at its query weight, is the previous layer's output and gives
    /// this layer's Q and K.
    func teacherStates(_ batch: EncoderBatch) throws -> (targets: [[Float]], hidden: [Int: Tensor], attention: [Int: Tensor]) {
        final class Captured { var states: [Int: Tensor] = [:], scores: [Int: Tensor] = [:] }
        let captured = Captured(), b = backend, encoder = teacher.encoder
        let wanted = options.hiddenWeight > 0 ? Set(resolvedLayerMap) : [], attended = Set(resolvedAttentionLayers.map { resolvedLayerMap[$0] })
        let last = try encoder.hiddenStates(batch) { name, x in
            guard name.hasSuffix("attention.self.query.weight"), let range = name.range(of: "encoder.layer.") else { return }
            guard let j = Int(name[range.upperBound...].prefix { $0.isNumber }) else { return }
            if attended.contains(j) { captured.scores[j] = try encoder.attentionScores(layer: j, input: x, batch: batch) }
            guard j > 0, wanted.contains(j - 1) else { return }
            let copy = try b.allocate(x.shape, name: "teacher layer \(j - 1)")
            try b.copy(x, to: copy)
            captured.states[j - 1] = copy
        }
        captured.states[teacher.encoder.config.layers - 1] = last
        let states = try b.floats(last), h = teacher.encoder.config.hiddenSize
        let targets = (0..<batch.batch).map { s in
            var sum = [Double](repeating: 0, count: h)
            for r in s * batch.sequence..<(s * batch.sequence + batch.lengths[s]) {
                for e in 0..<h { sum[e] += Double(states[r * h + e]) }
            }
            return EmbeddingLoss.normalized(sum.map { $0 / Double(batch.lengths[s]) }).map(Float.init)
        }
        let hidden = options.hiddenWeight > 0
            ? resolvedLayerMap.enumerated().reduce(into: [Int: Tensor]()) { $0[$1.offset] = captured.states[$1.element] } : [:]
        let attention = resolvedAttentionLayers.reduce(into: [Int: Tensor]()) { $0[$1] = captured.scores[resolvedLayerMap[$1]] }
        return (targets, hidden, attention)
    }

    /// The loss curve as CSV (`step,loss,learning_rate,gradient_norm,tokens_per_s`).
    public var curveCSV: String { ([StepRecord.csvHeader] + curve.map(\.csvLine)).joined(separator: "\n") + "\n" }

    /// The loss curve as a small SVG line plot (log-scaled loss).
    public var curveSVG: String { LossPlot.svg(curve.map { ($0.step, $0.loss) }) }

    // MARK: Checkpoints

    /// What must match for a checkpoint to continue this run.
    var fingerprint: [String: String] {
        let o = options, c = student.config
        return [
            "teacher_config": "\(c.vocabSize)x\(c.hiddenSize) heads \(c.heads) ffn \(c.intermediateSize)",
            "student_layers": "\(o.studentLayers)", "init": o.initialization.rawValue, "steps": "\(o.steps)",
            "batch": "\(o.batch)", "seq": "\(o.sequence)", "lr": "\(o.learningRate)", "warmup": "\(o.warmupSteps)",
            "weight_decay": "\(o.weightDecay)", "max_grad_norm": "\(o.maxGradientNorm)",
            // The attention KL joins the loss only when on, so checkpoints from before it still resume.
            "loss": "mse \(o.losses.mse) cosine \(o.losses.cosine) hidden \(o.hiddenWeight)"
                + (resolvedAttentionLayers.isEmpty ? "" : " attn-kl \(o.attentionWeight) layers \(resolvedAttentionLayers.map(String.init).joined(separator: ","))")
                + (o.hiddenProjection ? " projected" : ""),
            "teacher_quantization": o.teacherQuantization.map { "\($0.format) \($0.activations)" } ?? "f32",
            "layer_map": resolvedLayerMap.map(String.init).joined(separator: ","), "seed": "\(o.seed)", "data_sequences": "\(sequences.count)",
        ].merging([
            // Present only when used, so checkpoints from before these options still resume.
            "student_source": o.studentSource?.path,
            "student_quantization": o.studentQuantization.map { "\($0)\(o.learnScales ? " learned scales" : "")" },
            "keep_mask": o.keepMask ? "true" : nil,
        ].compactMapValues { $0 }) { $1 }
    }

    /// Writes weights, AdamW moments, the step, the data position (the step:
    /// the order is seeded) and the loss curve so far into one safetensors
    /// file, atomically (a temporary file renamed into place).
    public func saveCheckpoint(to url: URL) throws {
        var entries: [SafeTensorsWriter.Entry] = []
        for p in student.parameters {
            for (prefix, t) in [("", p.value), ("adam_m.", p.state.m), ("adam_v.", p.state.v)] {
                let values = try backend.floats(t)
                entries.append(.init(name: prefix + p.name, kind: .f32, shape: p.shape.dims,
                                     data: values.withUnsafeBytes { Data($0) }))
            }
        }
        var metadata = fingerprint.reduce(into: [String: String]()) { $0["run." + $1.key] = $1.value }
        metadata["step"] = "\(step)"
        metadata["loss_curve"] = curveCSV
        metadata["format"] = Self.checkpointFormat
        try SafeTensorsWriter.write(entries, metadata: metadata, to: url)
    }

    /// Continues from a checkpoint of this same configuration.
    public func resume(from url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        let m = file.metadata
        guard m["format"] == Self.checkpointFormat, let saved = m["step"].flatMap(Int.init) else {
            throw SlimError.malformedFile(path: url.path, detail: "not a slim distill checkpoint")
        }
        let differing = fingerprint.filter { m["run." + $0.key] != $0.value }.keys.sorted()
        guard differing.isEmpty else {
            let detail = differing.map { "\($0): checkpoint \(m["run." + $0] ?? "none"), now \(fingerprint[$0]!)" }.joined(separator: "; ")
            throw SlimError.invalidArgument("the checkpoint \(url.path) is from another configuration (\(detail))")
        }
        let store = TensorFileWeightStore(file: file)
        for p in student.parameters {
            for (prefix, t) in [("", p.value), ("adam_m.", p.state.m), ("adam_v.", p.state.v)] {
                guard try store.shape(of: prefix + p.name) == p.shape.dims else {
                    throw SlimError.malformedFile(path: url.path, detail: "'\(prefix + p.name)' does not match the student's \(p.shape)")
                }
                try backend.write(try store.floats(prefix + p.name), to: t)
            }
        }
        let lines = (m["loss_curve"] ?? "").split(separator: "\n").dropFirst()
        curve = try lines.map { line in
            let f = line.split(separator: ",").map { Double($0) }
            guard f.count == 5, let s = f[0], let l = f[1], let r = f[2], let g = f[3], let t = f[4] else {
                throw SlimError.malformedFile(path: url.path, detail: "a malformed loss-curve row '\(line)'")
            }
            return StepRecord(step: Int(s), loss: l, learningRate: r, gradientNorm: g, tokensPerSecond: t)
        }
        guard curve.count == saved else {
            throw SlimError.malformedFile(path: url.path, detail: "step \(saved) but \(curve.count) loss-curve rows")
        }
    }

    // MARK: The final model

    /// Writes the student as a sentence-transformers folder: the tokenizer and
    /// module files of the folder it started from, `config.json` with the
    /// student's layer count and what training did, `model.safetensors` (packed
    /// weights under QAT: exactly the fake-quantized values it trained with),
    /// the loss curve (CSV and SVG) and a model card. Staged beside `output`
    /// and renamed into place when complete.
    @discardableResult
    public func writeModel(to output: URL, overwrite: Bool = false) throws -> CompressionReport {
        let o = options, base = o.studentSource ?? o.teacher
        // The caller (the CLI) usually holds the claim for the whole run already; then this one nests.
        let claim = try OutputPolicy.claimFolder(output, inputs: [o.teacher] + [o.studentSource].compactMap { $0 }, overwrite: overwrite)
        defer { claim.release() }
        let tensors = try student.parameters.filter { !$0.name.hasSuffix(".scales") && !$0.name.hasPrefix("distill.") }.map { p in
            TrainedModelFolder.Tensor(name: p.name, shape: p.shape.dims, values: try backend.floats(p.value))
        }
        var trained: [String: Any] = [
            "teacher": o.teacher.path, "steps": step, "batch": o.batch, "seq": o.sequence, "lr": o.learningRate,
        ]
        if let last = curve.last, last.loss.isFinite { trained["final_loss"] = last.loss }
        var config: [String: Any?] = ["num_hidden_layers": o.studentLayers]
        let packed = try student.packedWeights()
        if let format = o.studentQuantization {
            trained["learned_scales"] = o.learnScales
            config["quantization_config"] = [
                "quant_method": "slim", "method": "qat", "format": format.description,
                "layers": packed.mapValues { $0.format.description },
            ] as [String: Any]
        } else {
            config["quantization_config"] = nil as Any?
        }
        if !o.keepMask { config["sparsity_config"] = nil as Any? }
        if let source = o.studentSource {
            trained["student_source"] = source.path
            trained["keep_mask"] = o.keepMask
            config["slim_finetuned"] = trained
        } else {
            trained["init"] = o.initialization.rawValue
            trained["teacher_layers"] = o.initialization.teacherLayers(student: o.studentLayers, teacher: teacher.encoder.config.layers)
            config["slim_distilled"] = trained
        }
        let method = [o.studentSource == nil ? "distill" : "finetune", o.studentQuantization == nil ? nil : "qat",
                      o.keepMask ? "sparse" : nil].compactMap { $0 }.joined(separator: "-")
        let seconds = curve.reduce(0.0) { $0 + Double(o.batch * o.sequence) / $1.tokensPerSecond }
        return try TrainedModelFolder.write(
            to: output, base: base, original: o.teacher, tensors: tensors, packed: packed, config: config,
            files: ["loss.csv": Data(curveCSV.utf8), "loss.svg": Data(curveSVG.utf8)], method: method,
            format: o.studentQuantization?.description ?? "fp32",
            training: "\(step) steps of \(o.batch) × \(o.sequence) tokens from teacher \(o.teacher.lastPathComponent) on \(sequences.count) texts",
            seconds: seconds)
    }
}

/// A loss curve as an SVG line plot with a log-scaled y axis.
enum LossPlot {
    static func svg(_ points: [(step: Int, loss: Double)]) -> String {
        let w = 640.0, h = 360.0, left = 70.0, right = 20.0, top = 20.0, bottom = 40.0
        let valid = points.filter { $0.loss > 0 && $0.loss.isFinite }
        guard let first = valid.first, let last = valid.last else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\"></svg>\n"
        }
        let lo = log10(valid.map(\.loss).min()!), hi = max(log10(valid.map(\.loss).max()!), lo + 1e-9)
        let x0 = Double(first.step), x1 = max(Double(last.step), x0 + 1)
        func px(_ s: Int) -> Double { left + (Double(s) - x0) / (x1 - x0) * (w - left - right) }
        func py(_ l: Double) -> Double { top + (hi - log10(l)) / (hi - lo) * (h - top - bottom) }
        let path = valid.map { String(format: "%.1f,%.1f", px($0.step), py($0.loss)) }.joined(separator: " ")
        func label(_ v: Double) -> String { String(format: "%.3g", v) }
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <line x1="\(left)" y1="\(h - bottom)" x2="\(w - right)" y2="\(h - bottom)" stroke="black"/>
        <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(h - bottom)" stroke="black"/>
        <text x="\(left - 5)" y="\(top + 4)" text-anchor="end">\(label(pow(10, hi)))</text>
        <text x="\(left - 5)" y="\(h - bottom)" text-anchor="end">\(label(pow(10, lo)))</text>
        <text x="\(left)" y="\(h - bottom + 16)" text-anchor="middle">\(first.step)</text>
        <text x="\(w - right)" y="\(h - bottom + 16)" text-anchor="end">\(last.step)</text>
        <text x="\((left + w - right) / 2)" y="\(h - 8)" text-anchor="middle">step</text>
        <text x="16" y="\((top + h - bottom) / 2)" transform="rotate(-90 16 \((top + h - bottom) / 2))" text-anchor="middle">loss (log scale)</text>
        <polyline fill="none" stroke="steelblue" stroke-width="1.5" points="\(path)"/>
        </svg>

        """
    }
}
