import Foundation
import SlimCore
import SlimCPU
import SlimModel
import SlimTrain
import Testing
import TestSupport

/// A student initialised from a teacher folder runs the teacher's model: with
/// all the teacher's layers its embeddings are the inference encoder's.
@Suite struct StudentLoading {
    /// Writes the tiny random BERT of ``Tiny`` (weights from `seed`) as a fresh model folder
    /// (weights, config.json, vocab.txt); the caller removes it. `edit` may change the weights
    /// by name before they are written (a test's pruning).
    static func folder(_ name: String, config c: BertConfig = Tiny.config, seed: UInt64,
                       edit: (String, inout [Float]) -> Void = { _, _ in }) throws -> URL {
        let url = try Temporary.folder("train-\(name)")
        let student = try StudentBert(randomConfig: c, seed: seed, backend: CPUBackend(), perturbed: true)
        let entries = try zip(student.parameters, student.parameterValues()).map { p, v in
            var v = v
            edit(p.name, &v)
            return SafeTensorsWriter.Entry(name: p.name, kind: .f32, shape: p.shape.dims, data: v.withUnsafeBytes { Data($0) })
        }
        try SafeTensorsWriter.write(entries, to: url.appendingPathComponent("model.safetensors"))
        let config: [String: Any] = ["model_type": "bert", "vocab_size": c.vocabSize, "hidden_size": c.hiddenSize,
                                     "num_hidden_layers": c.layers, "num_attention_heads": c.heads,
                                     "intermediate_size": c.intermediateSize, "max_position_embeddings": c.maxPositions,
                                     "type_vocab_size": c.typeVocabSize, "hidden_act": "gelu", "layer_norm_eps": 1e-12]
        try JSONSerialization.data(withJSONObject: config).write(to: url.appendingPathComponent("config.json"))
        let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (5..<c.vocabSize).map { "w\($0)" }
        try (words.joined(separator: "\n") + "\n").write(to: url.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return url
    }

    @Test(.seeded) func fullDepthStudentEmbedsAsTheTeacher() throws {
        let url = try Self.folder("full", seed: TestSeed.current)
        defer { try? FileManager.default.removeItem(at: url) }
        let backend = CPUBackend()
        let teacher = try SentenceEmbedder.load(folder: url, backend: backend)
        let student = try StudentBert(teacher: url, layers: 2, initialization: .first, backend: backend)
        let want = try teacher.embed(tokenized: [Tiny.batch.ids.prefix(7).map { $0 }, [1, 12, 30, 2]])
        let got = try student.embeddings(Tiny.batch)
        // zip stops at the shorter side: a missing sentence or feature must not pass as agreement.
        #expect(want.count == 2 && got.count == 2 && zip(want, got).allSatisfy { $0.count == $1.count })
        for (a, b) in zip(want, got) {
            // The same fp32 ops (the student saves statistics, the teacher does not): equal to a few ulp.
            #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 }, "teacher \(a) vs student \(b)")
        }
    }

    @Test(.seeded) func studentLayersComeFromTheChosenTeacherLayers() throws {
        let url = try Self.folder("layers", seed: TestSeed.current)
        defer { try? FileManager.default.removeItem(at: url) }
        let store = TensorFileWeightStore(file: try SafeTensorsFile(contentsOf: url.appendingPathComponent("model.safetensors")))
        for (initialization, source) in [(StudentInitialization.first, 0), (.last, 1)] {
            let s = try StudentBert(teacher: url, layers: 1, initialization: initialization, backend: CPUBackend())
            let q = try #require(s.parameters.first { $0.name == "encoder.layer.0.attention.self.query.weight" })
            #expect(try s.backend.floats(q.value) == (try store.floats("encoder.layer.\(source).attention.self.query.weight")))
        }
        #expect(throws: SlimError.self) { try StudentBert(teacher: url, layers: 3, initialization: .first, backend: CPUBackend()) }
    }
}

@Suite struct TeacherHiddenStates {
    /// A full-depth student copied from its teacher matches every teacher layer's
    /// output: with the identity layer map the first step's loss is 0, and an
    /// off-by-one map (a wrongly captured layer) is not.
    @Test(.seeded) func fullDepthStudentHasZeroHiddenLossOnTheIdentityMap() throws {
        let url = try StudentLoading.folder("hidden", seed: TestSeed.current)
        defer { try? FileManager.default.removeItem(at: url) }
        let texts = ["w5 w6 w7 w8", "w9 w10 w11", "w12 w13 w14 w15 w16 w17", "w20 w21"]
        var losses: [Double] = []
        for map in [[0, 1], [1, 1]] {
            var o = DistillationOptions(teacher: url, studentLayers: 2, steps: 1)
            o.initialization = .first
            o.batch = 4
            o.sequence = 16
            o.losses = EmbeddingLoss(mse: 1, cosine: 1)
            o.hiddenWeight = 1
            o.layerMap = map
            losses.append(try Distillation(options: o, texts: texts, backend: CPUBackend()).trainStep().loss)
        }
        // The same fp32 ops on the same weights: the identity map leaves rounding (states ~1, squared ~1e-13).
        #expect(losses[0] < 1e-10, "identity map: \(losses[0])")
        #expect(losses[1] > 1e-3, "layer 0 against the teacher's layer 1: \(losses[1])")
    }
}
