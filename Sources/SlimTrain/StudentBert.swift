import Foundation
import SlimCore
import SlimModel

/// A BERT encoder whose weights are trainable fp32 tensors on one backend:
/// forward saving what the backward needs, then the gradient of a loss on the
/// mean-pooled, L2-normalised sentence embedding with respect to every weight.
///
/// ```swift
/// let student = try StudentBert(teacher: folder, layers: 3, initialization: .everyOther, backend: cpu)
/// let loss = try student.lossAndGradients(batch, targets: teacherVectors, losses: .init(mse: 1, cosine: 1))
/// ```
public final class StudentBert: @unchecked Sendable {
    public let config: BertConfig
    public let backend: any Backend
    let word: Parameter, position: Parameter, type: Parameter, embeddingNorm: (gamma: Parameter, beta: Parameter)
    var layers: [StudentLayer]
    /// Fake quantization of the word and position tables (QAT), by table name.
    var tableQuant: [String: FakeQuantizedWeight] = [:]
    /// Fixed sparsity masks (1 kept, 0 pruned) by parameter name: sparse fine-tuning.
    public internal(set) var masks: [String: Tensor] = [:]
    /// Learned projections of student layer outputs into the teacher's width
    /// for the hidden-state MSE (TinyBERT's `W_h`), by student layer; training
    /// only, not written with the model.
    public internal(set) var hiddenProjections: [Int: Parameter] = [:]
    /// The attention-KL part of the last ``lossAndGradients(_:targets:losses:hidden:hiddenWeight:attention:attentionWeight:)`` (0 without it).
    public private(set) var lastAttentionLoss = 0.0

    /// A student with its weights given by name (`values[name]`), shaped as `config` implies.
    public init(config c: BertConfig, backend: any Backend, values: (String, Shape) throws -> [Float]) throws {
        guard c.prunedHeads.isEmpty, c.intermediateSizes == nil else {
            throw SlimError.unsupported(op: "distill", backend: "model", reason: "a student with pruned heads or MLP widths")
        }
        config = c
        self.backend = backend
        let h = c.hiddenSize
        func p(_ name: String, _ shape: Shape) throws -> Parameter {
            try Parameter(name, values: try values(name, shape), shape: shape, on: backend)
        }
        word = try p("embeddings.word_embeddings.weight", [c.vocabSize, h])
        position = try p("embeddings.position_embeddings.weight", [c.maxPositions, h])
        type = try p("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h])
        embeddingNorm = (try p("embeddings.LayerNorm.weight", [h]), try p("embeddings.LayerNorm.bias", [h]))
        layers = try (0..<c.layers).map { try StudentLayer(index: $0, config: c, make: p) }
    }

    /// Every parameter, in a fixed order (the optimizer's, the checkpoint's):
    /// learned quantization scales come last.
    public var parameters: [Parameter] {
        [word, position, type, embeddingNorm.gamma, embeddingNorm.beta] + layers.flatMap(\.parameters)
            + [word, position].compactMap { tableQuant[$0.name]?.learnsScales == true ? tableQuant[$0.name]!.scales : nil }
            + hiddenProjections.keys.sorted().map { hiddenProjections[$0]! }
    }

    /// Adds a learned projection `[teacherWidth, hidden]` for each of `layers`,
    /// starting as the identity (zero-padded when the widths differ), so the
    /// hidden-state MSE compares `output · Wᵀ` with the teacher's states.
    public func addHiddenProjections(_ layers: [Int], teacherWidth: Int) throws {
        let h = config.hiddenSize
        for i in layers {
            guard self.layers.indices.contains(i) else {
                throw SlimError.invalidArgument("hidden projection: student layer \(i) is outside 0..<\(self.layers.count)")
            }
            let identity = (0..<teacherWidth * h).map { $0 / h == $0 % h ? Float(1) : 0 }
            hiddenProjections[i] = try Parameter(Self.projectionName(i), values: identity, shape: [teacherWidth, h], on: backend)
        }
    }

    /// The name of student layer `i`'s hidden projection (checkpoints only; never a model tensor).
    public static func projectionName(_ i: Int) -> String { "distill.hidden_projection.\(i).weight" }

    /// A student of `config` with BERT's random initialisation (normal(0, 0.02)
    /// weights), and, when `perturbed`, small random biases and layer-norm
    /// scales near 1 so that every parameter has a nonzero effect (gradient tests).
    public convenience init(randomConfig c: BertConfig, seed: UInt64, backend: any Backend, perturbed: Bool = false) throws {
        var rng = SeededGenerator(seed: seed)
        try self.init(config: c, backend: backend) { name, shape in
            let n = shape.elementCount
            if name.hasSuffix("LayerNorm.weight") {
                return (0..<n).map { _ in Float(1 + (perturbed ? 0.1 * rng.normal() : 0)) }
            }
            if shape.rank == 1 { return (0..<n).map { _ in Float(perturbed ? 0.1 * rng.normal() : 0) } }
            return (0..<n).map { _ in Float(0.02 * rng.normal() * (perturbed ? 10 : 1)) }
        }
    }

    /// Values of every parameter, downloaded (in ``parameters`` order).
    public func parameterValues() throws -> [[Float]] { try parameters.map { try backend.floats($0.value) } }

    // MARK: Forward

    /// What the forward keeps for the backward pass.
    struct Tape {
        let batch: EncoderBatch
        let ids: Tensor, positions: Tensor, types: Tensor, keyLengths: Tensor
        let layout: BlockSparseLayout, options: AttentionOptions
        let embeddingSum: Tensor, embeddingStats: NormStatistics
        var layers: [StudentLayer.Tape] = []
        /// `[batch, rows]`: 1/length on a sequence's real tokens, 0 elsewhere (mean pooling as a GEMM).
        let poolingMatrix: Tensor
        let output: Tensor
        let pooled: Tensor
    }

    /// The token states of the last layer `[batch·seq, hidden]` and the mean-pooled `[batch, hidden]` vectors.
    func forward(_ batch: EncoderBatch) throws -> Tape {
        let c = config, b = backend, rows = batch.batch * batch.sequence, h = c.hiddenSize
        guard batch.batch > 0, batch.sequence > 0 else { throw SlimError.invalidArgument("an empty training batch") }
        guard batch.sequence <= c.maxPositions else {
            throw SlimError.invalidArgument("sequence of \(batch.sequence) tokens exceeds the model's \(c.maxPositions) positions")
        }
        if let bad = batch.ids.first(where: { !(0..<Int32(c.vocabSize)).contains($0) }) {
            throw SlimError.invalidArgument("token id \(bad) is outside the vocabulary of \(c.vocabSize)")
        }
        guard batch.lengths.allSatisfy({ $0 > 0 }) else { throw SlimError.invalidArgument("an empty sequence in a training batch") }
        let ids = try b.tensor(batch.ids, shape: [rows], dtype: .i32, name: "ids")
        let positions = try b.tensor((0..<rows).map { Int32($0 % batch.sequence) }, shape: [rows], dtype: .i32, name: "positions")
        let types = try b.tensor(batch.tokenTypes, shape: [rows], dtype: .i32, name: "token types")
        let keyLengths = try b.tensor(batch.lengths.map { Int32($0) }, shape: [batch.batch], dtype: .i32, name: "key lengths")
        let sum = try b.allocate([rows, h], name: "embedding sum"), part = try b.allocate([rows, h], name: "embedding part")
        for (name, q) in tableQuant { try q.refresh(name == word.name ? word : position, on: b) }
        try b.embedding(ids, table: tableQuant[word.name]?.value ?? word.value, into: sum)
        try b.embedding(positions, table: tableQuant[position.name]?.value ?? position.value, into: part)
        try b.add(sum, part, into: sum)
        try b.embedding(types, table: type.value, into: part)
        try b.add(sum, part, into: sum)
        let stats = NormStatistics(mean: try b.allocate([rows], name: "mean"), rstd: try b.allocate([rows], name: "rstd"))
        var x = try b.allocate([rows, h], name: "embeddings")
        try b.layerNorm(sum, gamma: embeddingNorm.gamma.value, beta: embeddingNorm.beta.value, epsilon: c.layerNormEpsilon,
                        into: x, saving: stats)
        // One block per query row group, as the inference encoder chooses it.
        let block = min(64, max(16, (batch.sequence + 15) / 16 * 16))
        let layout = try BlockSparseLayout.dense(queryLength: batch.sequence, keyLength: batch.sequence, blockSize: block)
        let options = AttentionOptions(scale: 1 / Float(c.headDim).squareRoot(), keyLengths: keyLengths)
        var layerTapes: [StudentLayer.Tape] = []
        for layer in layers {
            let t = try layer.forward(x, batch: batch, layout: layout, options: options, on: b)
            layerTapes.append(t)
            x = t.output
        }
        var pooling = [Float](repeating: 0, count: batch.batch * rows)
        for s in 0..<batch.batch {
            for t in 0..<batch.lengths[s] { pooling[s * rows + s * batch.sequence + t] = 1 / Float(batch.lengths[s]) }
        }
        let poolingMatrix = try b.tensor(pooling, shape: [batch.batch, rows], name: "pooling")
        let pooled = try b.allocate([batch.batch, h], name: "pooled")
        try b.gemm(poolingMatrix, x, into: pooled, options: GemmOptions())
        var tape = Tape(batch: batch, ids: ids, positions: positions, types: types, keyLengths: keyLengths, layout: layout,
                        options: options, embeddingSum: sum, embeddingStats: stats, poolingMatrix: poolingMatrix, output: x, pooled: pooled)
        tape.layers = layerTapes
        return tape
    }

    /// The normalised sentence embeddings of `batch` (`[batch][hidden]`), as `SentenceEmbedder` computes them.
    public func embeddings(_ batch: EncoderBatch) throws -> [[Float]] {
        let pooled = try backend.floats(try forward(batch).pooled)
        let h = config.hiddenSize
        return (0..<batch.batch).map { s in
            EmbeddingLoss.normalized(pooled[s * h..<(s + 1) * h].map(Double.init)).map(Float.init)
        }
    }

    // MARK: Backward

    /// Runs forward and backward on `batch` against the teacher's sentence
    /// embeddings `targets` (one per sequence), writing every parameter's
    /// gradient; returns the loss.
    ///
    /// `hidden` adds hidden-state MSE: student layer `i`'s output against the
    /// teacher states `hidden[i]` (`[batch·seq, hidden]`, the same padded rows),
    /// `hiddenWeight · mean((s − t)²)` over the real tokens' rows only.
    ///
    /// `attention` adds the attention KL: student layer `i`'s attention logits
    /// against the teacher's `attention[i]` (`[batch, heads, seq, seq]`, as
    /// ``Backend/attentionScores(_:_:layout:options:into:)`` writes them),
    /// `attentionWeight · mean over (sequence, head, real query row) of KL(P_teacher ‖ P_student)`
    /// per layer. The term alone is kept in ``lastAttentionLoss``.
    public func lossAndGradients(_ batch: EncoderBatch, targets: [[Float]], losses: EmbeddingLoss,
                                 hidden: [Int: Tensor] = [:], hiddenWeight: Double = 1,
                                 attention: [Int: Tensor] = [:], attentionWeight: Double = 1) throws -> Double {
        if let bad = attention.keys.first(where: { !layers.indices.contains($0) }) {
            throw SlimError.invalidArgument("attention KL: student layer \(bad) is outside 0..<\(layers.count)")
        }
        let tape = try forward(batch)
        let h = config.hiddenSize, b = backend
        guard targets.count == batch.batch, targets.allSatisfy({ $0.count == h }) else {
            throw SlimError.shapeMismatch(op: "distill", detail: "\(targets.count) targets for \(batch.batch) sequences of width \(h)")
        }
        let pooled = try b.floats(tape.pooled).map(Double.init)
        var (loss, dPooled) = losses.evaluate(pooled: pooled, targets: targets.flatMap { $0.map(Double.init) }, width: h)
        let dp = try b.tensor(dPooled.map(Float.init), shape: [batch.batch, h], name: "dPooled")
        let rows = batch.batch * batch.sequence
        var dy = try b.allocate([rows, h], name: "dOutput")
        try b.gemm(tape.poolingMatrix, dp, into: dy, options: GemmOptions(transposeA: true))
        let ones = try b.tensor([Float](repeating: 1, count: rows), shape: [1, rows], name: "ones")
        var masks: [Int: Tensor] = [:]
        func realTokenMask(width: Int) throws -> Tensor {
            if let m = masks[width] { return m }
            let m = try b.tensor((0..<rows).flatMap { r in
                [Float](repeating: r % batch.sequence < batch.lengths[r / batch.sequence] ? 1 : 0, count: width)
            }, shape: [rows, width], name: "real-token mask")
            masks[width] = m
            return m
        }
        let realRows = batch.lengths.reduce(0, +)
        lastAttentionLoss = 0
        for (i, (layer, t)) in zip(layers, tape.layers).enumerated().reversed() {
            var scoreGradient: Tensor?
            if let teacherScores = attention[i] {
                let kl = try AttentionKL.evaluate(q: try t.q.reshaped(t.heads), k: try t.k.reshaped(t.heads), teacher: teacherScores,
                                                  batch: batch, layout: tape.layout, options: tape.options, weight: attentionWeight, on: b)
                lastAttentionLoss += kl.loss
                scoreGradient = kl.gradScores
            }
            if let target = hidden[i] {
                let projection = hiddenProjections[i], width = projection?.shape[0] ?? h
                guard target.shape.elementCount == rows * width else {
                    throw SlimError.shapeMismatch(op: "hidden-state MSE", detail: projection == nil
                        ? "teacher states \(target.label) \(target.shape) for \(rows)x\(h) student states: a teacher of another width needs a hidden projection"
                        : "teacher states \(target.label) \(target.shape) for \(rows) rows projected to \(width)")
                }
                var predicted = t.output
                if let projection {
                    predicted = try b.allocate([rows, width], name: "projected states")
                    try b.gemm(t.output, projection.value, into: predicted, options: GemmOptions(transposeB: true))
                }
                let diff = try b.allocate([rows, width], name: "hidden difference")
                try b.scale(target, by: -1, into: diff)
                try b.add(predicted, diff, into: diff)
                try b.mul(diff, try realTokenMask(width: width), into: diff)
                let sums = try b.allocate([rows], name: "hidden sumsq")
                try b.reduceRows(diff, .sumOfSquares, into: sums)
                let count = Double(realRows * width)
                loss += hiddenWeight * (try b.floats(sums).reduce(0.0) { $0 + Double($1) }) / count
                try b.scale(diff, by: Float(2 * hiddenWeight / count), into: diff)
                if let projection {
                    // predicted = out·Wᵀ: dW = dpredᵀ·out, d(out) += dpred·W.
                    try b.gemm(diff, t.output, into: projection.grad, options: GemmOptions(transposeA: true))
                    try b.gemm(diff, projection.value, into: dy, options: GemmOptions(beta: 1))
                } else {
                    try b.add(dy, diff, into: dy)
                }
            }
            dy = try layer.backward(t, gradOutput: dy, ones: ones, options: tape.options, layout: tape.layout,
                                    scoreGradient: scoreGradient, on: b)
        }
        loss += lastAttentionLoss
        let dSum = try b.allocate([rows, h], name: "dEmbeddingSum")
        try b.layerNormBackward(tape.embeddingSum, gamma: embeddingNorm.gamma.value, stats: tape.embeddingStats, gradOutput: dy,
                                into: LayerNormGradients(dx: dSum, dGamma: embeddingNorm.gamma.grad, dBeta: embeddingNorm.beta.grad))
        for (table, ids) in [(word, tape.ids), (position, tape.positions), (type, tape.types)] {
            let q = tableQuant[table.name], grad = q?.gradient ?? table.grad
            try b.scale(grad, by: 0, into: grad)
            try b.embeddingBackward(ids, gradOutput: dSum, into: grad)
            try q?.backward(table, on: b)
        }
        return loss
    }
}
