import Foundation
import SlimCore
import SlimCPU
import SlimModel
import SlimTrain
import Testing
import TestSupport

/// A tiny BERT (2 layers, hidden 16, 2 heads of 8, MLP 32, vocabulary 50) and
/// a padded batch of two sequences (7 and 4 tokens in a batch of 7).
enum Tiny {
    static let config = BertConfig(vocabSize: 50, hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 32,
                                   maxPositions: 16, typeVocabSize: 2, layerNormEpsilon: 1e-12)
    static let batch = EncoderBatch(sequences: [[1, 7, 23, 41, 3, 9, 2], [1, 12, 30, 2]])
    static func targets(seed: UInt64, count: Int = 2, width: Int = 16) -> [[Float]] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in EmbeddingLoss.normalized((0..<width).map { _ in rng.normal() }).map(Float.init) }
    }
}

@Suite struct StudentGradients {
    /// Every parameter's gradient, from the fp32 backend forward and backward,
    /// against float64 central differences of an independent float64 forward.
    /// With `hiddenMSE`, both layers' outputs also match random teacher states (padded rows hold 100: they must not count).
    @Test(.seeded, arguments: [false, true])
    func gradientsMatchFiniteDifferences(hiddenMSE: Bool) throws {
        try Self.checkGradients(backend: CPUBackend(), hiddenMSE: hiddenMSE, attentionKL: false)
    }

    /// Hidden-state MSE through learned projections into a teacher of another
    /// width (24 for the student's 16), on every backend: the projections'
    /// gradients and the student's through them.
    @Test(.seeded, arguments: ["cpu", "opencl"])
    func projectedHiddenGradientsMatchFiniteDifferences(backend name: String) throws {
        try Self.checkGradients(backend: try TestBackends.named(name), hiddenMSE: true, attentionKL: false, teacherWidth: 24)
    }

    /// With the attention KL on both layers, on every backend: random teacher
    /// logits on the keys each row sees, the mask value past the length, and 100
    /// in the padded query rows (they must not count).
    @Test(.seeded, arguments: ["cpu", "opencl"])
    func attentionKLGradientsMatchFiniteDifferences(backend name: String) throws {
        try Self.checkGradients(backend: try TestBackends.named(name), hiddenMSE: false, attentionKL: true)
    }

    /// Teacher logits of another head count, or for a layer the student lacks, are clear errors.
    @Test func attentionKLRefusesMismatchedTeachers() throws {
        let backend = CPUBackend()
        let student = try StudentBert(randomConfig: Tiny.config, seed: 7, backend: backend)
        let L = Tiny.batch.sequence, targets = Tiny.targets(seed: 3)
        let threeHeads = try backend.allocate([Tiny.batch.batch, 3, L, L], name: "teacher scores")
        #expect { try student.lossAndGradients(Tiny.batch, targets: targets, losses: EmbeddingLoss(), attention: [1: threeHeads]) } throws: {
            "\($0)".contains("attention KL") && "\($0)".contains("3 heads but the student layer has 2")
        }
        let right = try backend.allocate([Tiny.batch.batch, 2, L, L], name: "teacher scores")
        #expect { try student.lossAndGradients(Tiny.batch, targets: targets, losses: EmbeddingLoss(), attention: [2: right]) } throws: {
            "\($0)".contains("student layer 2 is outside 0..<2")
        }
    }

    /// Draws the student, targets and teacher states from the test's seed (`@Test(.seeded)`).
    static func checkGradients(backend: any Backend, hiddenMSE: Bool, attentionKL: Bool, teacherWidth: Int? = nil) throws {
        let seed = TestSeed.current
        let student = try StudentBert(randomConfig: Tiny.config, seed: seed, backend: backend, perturbed: true)
        let targets = Tiny.targets(seed: seed &+ 1), losses = EmbeddingLoss(mse: 1, cosine: 1)
        var rng = SeededGenerator(seed: seed &+ 2)
        let rows = Tiny.batch.batch * Tiny.batch.sequence, h = teacherWidth ?? Tiny.config.hiddenSize
        if let teacherWidth {
            try student.addHiddenProjections([0, 1], teacherWidth: teacherWidth)
            // Away from the identity start, so every projection weight matters.
            for p in student.hiddenProjections.values {
                try backend.write((0..<p.shape.elementCount).map { _ in Float(0.3 * rng.normal()) }, to: p.value)
            }
        }
        let states: [Int: [Float]] = hiddenMSE ? [0: 0, 1: 0].mapValues { _ in
            (0..<rows * h).map { r in r / h % Tiny.batch.sequence < Tiny.batch.lengths[r / h / Tiny.batch.sequence] ? Float(rng.normal()) : 100 }
        } : [:]
        let hidden = try states.mapValues { try backend.tensor($0, shape: [rows, h]) }
        let (B, H, L) = (Tiny.batch.batch, Tiny.config.heads, Tiny.batch.sequence)
        let logits: [Int: [Float]] = attentionKL ? [0: 0, 1: 0].mapValues { _ in
            (0..<B * H * L * L).map { at in
                let s = at / (H * L * L), i = at / L % L, j = at % L, length = Tiny.batch.lengths[s]
                return i >= length ? 100 : j >= length ? attentionScoreMask : Float(2 * rng.normal())
            }
        } : [:]
        let attention = try logits.mapValues { try backend.tensor($0, shape: [B, H, L, L]) }
        let loss = try student.lossAndGradients(Tiny.batch, targets: targets, losses: losses, hidden: hidden, hiddenWeight: 0.5,
                                                attention: attention, attentionWeight: 0.7)
        if attentionKL { #expect(student.lastAttentionLoss > 0.01, "the attention KL is part of the loss: \(student.lastAttentionLoss)") }
        let values = try student.parameterValues()
        var reference = Float64Student(config: Tiny.config, values: [:])
        for (p, v) in zip(student.parameters, values) { reference.values[p.name] = v.map(Double.init) }
        func referenceLoss(_ r: Float64Student) -> Double {
            r.loss(Tiny.batch, targets: targets, losses: losses, hidden: states, hiddenWeight: 0.5, attention: logits, attentionWeight: 0.7)
        }
        let exact = referenceLoss(reference)
        // The fp32 forward of a loss near 1 through ~10 roundings per value: 1e-5 relative is ~100 ulp.
        #expect(abs(loss - exact) <= 1e-5 * abs(exact), "fp32 loss \(loss) vs float64 \(exact)")

        rng = SeededGenerator(seed: seed &+ 3)
        let usedIDs = Set(Tiny.batch.ids.map(Int.init))
        let gradients = try student.parameters.map { try backend.floats($0.grad) }
        // Every parameter is checked: 5 embedding tensors and 16 per layer, and the projections.
        #expect(student.parameters.count == 5 + 16 * Tiny.config.layers + (teacherWidth == nil ? 0 : 2))
        // Word-embedding rows the batch does not use get no gradient at all: checked whole, as
        // a stray value there would otherwise go unseen (the elements below are a sample).
        let table = try #require(zip(student.parameters, gradients).first { $0.0.name == "embeddings.word_embeddings.weight" }?.1)
        let hs = Tiny.config.hiddenSize, unused = (0..<Tiny.config.vocabSize).filter { !usedIDs.contains($0) }
        #expect(unused.allSatisfy { r in table[r * hs..<(r + 1) * hs].allSatisfy { $0 == 0 } }, "an unused word-embedding row has a gradient")
        // The float64 finite differences first: the tolerance's scale comes from them (the
        // reference), not from the gradients under test, where one stray large value would widen it for all.
        var samples: [(name: String, index: Int, got: Float, fd: Double)] = []
        for (p, g) in zip(student.parameters, gradients) {
            // Four elements of every parameter; the tables' rows the batch uses, plus one row it does not (gradient 0).
            var picks = (0..<4).map { _ in Int.random(in: 0..<p.shape.elementCount, using: &rng) }
            if p.name.hasSuffix("word_embeddings.weight") {
                picks = usedIDs.sorted().prefix(4).map { $0 * hs + Int.random(in: 0..<hs, using: &rng) } + [45 * hs + 3]
            } else if p.name.hasSuffix("position_embeddings.weight") {
                picks = [0 * hs + 1, 4 * hs + 5, 6 * hs + 2, 9 * hs + 0]
            } else if p.name.hasSuffix("token_type_embeddings.weight") {
                picks = [0 * hs + 3, 0 * hs + 9, 1 * hs + 4]
            }
            for i in picks {
                let step = 1e-4
                var plus = reference, minus = reference
                plus.values[p.name]![i] += step
                minus.values[p.name]![i] -= step
                samples.append((p.name, i, g[i], (referenceLoss(plus) - referenceLoss(minus)) / (2 * step)))
            }
        }
        let largest = samples.map { abs($0.fd) }.max()!
        var worst = 0.0
        for s in samples {
            let err = abs(Double(s.got) - s.fd)
            worst = max(worst, err / largest)
            // Central differences in float64 with step 1e-4 err by ~1e-8·|f'''|; the fp32
            // backward by ~1e-6 relative (worst seen 2e-7 of the largest): 1e-5 of the largest gradient plus 1e-3 of this one
            // leaves room for both, and a wrong term (a missing factor, a lost residual) is O(1).
            #expect(err <= 1e-5 * largest + 1e-3 * abs(s.fd), "\(s.name)[\(s.index)]: backend \(s.got) vs finite difference \(s.fd)")
        }
        print("student gradients (\(backend.id.kind.rawValue), hidden \(hiddenMSE), attention KL \(attentionKL)): \(samples.count) elements checked, worst error \(worst) of the largest finite difference \(largest)")
    }

    /// One full step (forward, backward, clipping, AdamW) on the CPU and on OpenCL from the same weights.
    @Test(.seeded) func openCLStepMatchesCPU() throws {
        let opencl = try TestBackends.openCL()
        let targets = Tiny.targets(seed: TestSeed.current &+ 1)
        var results: [(loss: Double, grads: [[Float]], values: [[Float]])] = []
        for backend in [CPUBackend(), opencl] as [any Backend] {
            let s = try StudentBert(randomConfig: Tiny.config, seed: TestSeed.current, backend: backend, perturbed: true)
            let loss = try s.lossAndGradients(Tiny.batch, targets: targets, losses: EmbeddingLoss())
            let grads = try s.parameters.map { try backend.floats($0.grad) }
            let before = try s.parameterValues(), optimizer = AdamW()
            let norm = try optimizer.step(s.parameters, step: 1, learningRate: 1e-3, on: backend)
            let after = try s.parameterValues()
            // Each backend's update is the one its own gradients call for.
            AdamWReference(optimizer: optimizer, learningRate: 1e-3, gradientNorm: norm)
                .expectFirstStep(names: s.parameters.map(\.name), decays: s.parameters.map(\.decays), before: before, after: after,
                                 gradients: grads, on: "\(backend.id)")
            results.append((loss, grads, after))
        }
        let (cpu, cl) = (results[0], results[1])
        // Both fp32, different summation orders: the loss agrees to ~1e-6 relative.
        #expect(abs(cpu.loss - cl.loss) <= 1e-5 * abs(cpu.loss))
        let largest = cpu.grads.flatMap { $0 }.map { abs($0) }.max()!
        for (i, (a, b)) in zip(cpu.grads, cl.grads).enumerated() {
            let err = zip(a, b).map { abs($0 - $1) }.max()!
            // Gradients through two layers of fp32 ops in other orders: 1e-4 of the largest gradient.
            #expect(err <= 1e-4 * largest, "gradient \(i): max difference \(err), largest gradient \(largest)")
        }
        // The first AdamW step moves each weight by ±lr·g/(|g|+eps) ≈ ±1e-3 whatever the gradient's size, so
        // where a gradient near 0 differs in sign on the two backends the weights are rightly 2·lr apart.
        // Where the gradient is clearly nonzero (above 1e-4 of the largest, ~100x the backends' gradient
        // difference) both backends move the weight by the same ±lr·(1 − tiny): equal to 1e-6.
        for (i, (a, b)) in zip(cpu.values, cl.values).enumerated() {
            for j in a.indices where abs(cpu.grads[i][j]) > 1e-4 * largest {
                #expect(abs(a[j] - b[j]) <= 1e-6, "parameter \(i)[\(j)] after the step: \(a[j]) vs \(b[j]), gradient \(cpu.grads[i][j])")
            }
        }
    }

    /// A tiny two-layer student fits a fixed batch: the loss falls by orders of magnitude.
    @Test(.seeded) func overfitsAFixedBatch() throws {
        let backend = CPUBackend()
        let student = try StudentBert(randomConfig: Tiny.config, seed: TestSeed.current, backend: backend)
        let targets = Tiny.targets(seed: TestSeed.current &+ 1), losses = EmbeddingLoss(mse: 1, cosine: 1)
        let steps = 300
        let schedule = LearningRateSchedule(peak: 1e-2, warmupSteps: 10, totalSteps: steps)
        let optimizer = AdamW(weightDecay: 0, maxGradientNorm: 1)
        var first = 0.0, last = 0.0
        for step in 1...steps {
            let loss = try student.lossAndGradients(Tiny.batch, targets: targets, losses: losses)
            if step == 1 { first = loss }
            last = loss
            try optimizer.step(student.parameters, step: step, learningRate: schedule.rate(at: step), on: backend)
        }
        print("overfit: loss \(first) → \(last)")
        #expect(last < first / 1000, "loss \(first) → \(last)")
    }

    @Test func scheduleWarmsUpThenDecays() {
        let s = LearningRateSchedule(peak: 1, warmupSteps: 10, totalSteps: 110)
        #expect(s.rate(at: 1) == 0.1)
        #expect(s.rate(at: 10) == 1)
        #expect(abs(s.rate(at: 60) - 0.5) < 1e-12)  // halfway through the cosine
        #expect(abs(s.rate(at: 110)) < 1e-12)
    }

    @Test func initializationPicksTeacherLayers() {
        #expect(StudentInitialization.everyOther.teacherLayers(student: 3, teacher: 6) == [0, 2, 4])
        #expect(StudentInitialization.first.teacherLayers(student: 2, teacher: 6) == [0, 1])
        #expect(StudentInitialization.last.teacherLayers(student: 2, teacher: 6) == [4, 5])
    }
}
