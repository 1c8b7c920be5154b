import Foundation
import SlimCore
import SlimCPU
import SlimModel
import SlimTrain
import Testing
import TestSupport

/// Quantization-aware training and sparse fine-tuning (issue #9) on a tiny
/// random BERT whose widths (32, 64) hold int4 groups of 32.
@Suite struct TrainingAwareCompression {
    static let config = BertConfig(vocabSize: 50, hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 64,
                                   maxPositions: 16, typeVocabSize: 2, layerNormEpsilon: 1e-12)
    static let texts = ["w5 w6 w7 w8", "w9 w10 w11", "w12 w13 w14 w15 w16 w17", "w20 w21", "w30 w31 w32 w33 w34"]
    static let format = QuantFormat.int4(groupSize: 32, symmetric: false)

    static func isLinear(_ name: String) -> Bool { name.hasPrefix("encoder.layer.") && name.hasSuffix("dense.weight")
        || name.hasSuffix("query.weight") || name.hasSuffix("key.weight") || name.hasSuffix("value.weight") }

    /// A QAT student's forward is the fp32 student's at the round-trip weights
    /// `dequantize(quantize(W))`, and its latent-weight gradients are that
    /// student's weight gradients (straight through: round-to-nearest scales clip nothing).
    @Test(.seeded) func quantizedStudentComputesWithRoundTripWeightsAndPassesGradientsStraightThrough() throws {
        let b = CPUBackend()
        let qat = try StudentBert(randomConfig: Self.config, seed: TestSeed.current, backend: b, perturbed: true)
        let values = Dictionary(uniqueKeysWithValues: zip(qat.parameters.map(\.name), try qat.parameterValues()))
        try qat.quantize(Self.format, learnsScales: true)
        let tables: Set = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight"]
        let roundTrip = try StudentBert(config: Self.config, backend: b) { name, shape in
            let v = values[name]!
            let f: QuantFormat? = Self.isLinear(name) ? Self.format : tables.contains(name) ? .int8PerChannel : nil
            guard let f else { return v }
            let e = try QuantCodec.encode(v, rows: shape[0], columns: shape[1], format: f)
            return try QuantCodec.decode(e, rows: shape[0], columns: shape[1], format: f)
        }
        let targets = Tiny.targets(seed: TestSeed.current &+ 1, width: 32), losses = EmbeddingLoss(mse: 1, cosine: 1)
        let lossQAT = try qat.lossAndGradients(Tiny.batch, targets: targets, losses: losses)
        let lossRT = try roundTrip.lossAndGradients(Tiny.batch, targets: targets, losses: losses)
        // The same fp32 ops on bit-identical weights.
        #expect(lossQAT == lossRT, "QAT loss \(lossQAT) vs round-trip weights \(lossRT)")
        let reference = Dictionary(uniqueKeysWithValues: try roundTrip.parameters.map { ($0.name, try b.floats($0.grad)) })
        var scales = 0
        for p in qat.parameters {
            guard let want = reference[p.name] else {
                #expect(p.name.hasSuffix(".scales"))
                scales += 1
                #expect(try b.floats(p.grad).contains { $0 != 0 }, "\(p.name) learns nothing")
                continue
            }
            #expect(try b.floats(p.grad) == want, "\(p.name): the straight-through gradient differs")
        }
        #expect(scales == 2 * 6 + 2, "every linear layer and both tables learn their scales")
    }

    /// Fine-tuned with QAT from a folder, the written folder (packed weights
    /// from the latent weights and learned scales) embeds exactly as the trained student does.
    @Test(.seeded) func exportedQuantizedFolderComputesWhatTrainingComputed() throws {
        let url = try StudentLoading.folder("qat-export", config: Self.config, seed: TestSeed.current)
        let out = url.appendingPathExtension("out")
        defer { try? FileManager.default.removeItem(at: url); try? FileManager.default.removeItem(at: out) }
        var o = DistillationOptions(teacher: url, studentLayers: 2, steps: 4)
        o.studentSource = url
        o.studentQuantization = Self.format
        o.learnScales = true
        o.batch = 3
        o.sequence = 8
        o.learningRate = 1e-2
        let b = CPUBackend()
        let run = try Distillation(options: o, texts: Self.texts, backend: b)
        for _ in 0..<4 { try run.trainStep() }
        let report = try run.writeModel(to: out)
        #expect(report.method == "finetune-qat" && report.layers.count == 2 * 6 + 2)
        let exported = try SentenceEmbedder.load(folder: out, backend: b)
        let batch = EncoderBatch(sequences: [[2, 7, 23, 41, 3, 9, 3], [2, 12, 30, 3]])
        let want = try run.student.embeddings(batch)
        let got = try exported.embed(tokenized: [[2, 7, 23, 41, 3, 9, 3], [2, 12, 30, 3]])
        // zip stops at the shorter side: a missing sentence or feature must not pass as agreement.
        #expect(want.count == 2 && got.count == 2 && zip(want, got).allSatisfy { $0.count == $1.count })
        for (a, e) in zip(want, got) {
            // Bit-identical weights; the inference path's kernels differ in order: a few ulp.
            #expect(zip(a, e).allSatisfy { abs($0 - $1) <= 2e-6 }, "trained \(a) vs exported \(e)")
        }
        // Training moved something, or the test proves nothing.
        let start = try SentenceEmbedder.load(folder: url, backend: b).embed(tokenized: [[2, 7, 23, 41, 3, 9, 3]])[0]
        #expect(zip(start, got[0]).contains { abs($0 - $1) > 1e-3 })
    }

    /// Sparse fine-tuning: every weight that was zero stays exactly zero, the
    /// others train; a dense model is refused.
    @Test(.seeded) func sparseFineTuningNeverMovesAMaskedWeight() throws {
        var pruned = 0
        let url = try StudentLoading.folder("sparse", config: Self.config, seed: TestSeed.current) { name, w in
            guard Self.isLinear(name) else { return }
            for i in stride(from: 0, to: w.count, by: 4) { w[i] = 0; w[i + 1] = 0; pruned += 2 }  // 2:4
        }
        let out = url.appendingPathExtension("out")
        defer { try? FileManager.default.removeItem(at: url); try? FileManager.default.removeItem(at: out) }
        for quantize in [false, true] {
            var o = DistillationOptions(teacher: url, studentLayers: 2, steps: 5)
            o.studentSource = url
            o.keepMask = true
            o.studentQuantization = quantize ? Self.format : nil
            o.batch = 3
            o.sequence = 8
            o.learningRate = 1e-2
            let b = CPUBackend()
            let run = try Distillation(options: o, texts: Self.texts, backend: b)
            #expect(run.student.masks.count == 12)
            let before = try run.student.parameterValues()
            for _ in 0..<5 { try run.trainStep() }
            var zeros = 0, moved = 0
            for (p, (old, new)) in zip(run.student.parameters, zip(before, try run.student.parameterValues())) where Self.isLinear(p.name) {
                for (x, y) in zip(old, new) {
                    if x == 0 { zeros += 1; #expect(y == 0, "\(p.name): a pruned weight became \(y)") } else if x != y { moved += 1 }
                }
            }
            #expect(zeros == pruned, "every pruned weight checked")
            #expect(moved > pruned / 2, "the kept weights train (\(moved) moved)")
        }
        var dense = DistillationOptions(teacher: url, studentLayers: 2, steps: 1)
        let plain = try StudentLoading.folder("dense", config: Self.config, seed: TestSeed.current &+ 1)
        defer { try? FileManager.default.removeItem(at: plain) }
        dense.studentSource = plain
        dense.keepMask = true
        #expect(throws: SlimError.self) { try Distillation(options: dense, texts: Self.texts, backend: CPUBackend()) }
    }

    @Test func formatsWithoutATrainingGridAreRefused() throws {
        let b = CPUBackend()
        let s = try StudentBert(randomConfig: Self.config, seed: 1, backend: b)
        #expect(throws: SlimError.self) { try s.quantize(.q4_0, learnsScales: false) }
        let narrow = try StudentBert(randomConfig: Tiny.config, seed: 1, backend: b)  // hidden 16: no group of 32 fits
        #expect(throws: SlimError.self) { try narrow.quantize(.int4(groupSize: 32, symmetric: true), learnsScales: false) }
    }
}
