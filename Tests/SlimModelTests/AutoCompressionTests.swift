import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// `--method auto`: the knapsack against brute force, and a small random BERT
/// compressed under a budget whose folder stores what its card says.
@Suite(.serialized) struct AutoCompressionTests {
    /// Every combination: the least error within the budget (nil if none fits).
    static func bruteForce(_ items: [[BudgetedChoice.Option]], budget: Int) -> Double? {
        var best: Double?
        func visit(_ i: Int, _ bytes: Int, _ error: Double) {
            guard bytes <= budget else { return }
            guard i < items.count else { best = min(best ?? .infinity, error); return }
            for o in items[i] { visit(i + 1, bytes + o.bytes, error + o.error) }
        }
        visit(0, 0, 0)
        return best
    }

    static func table(_ rng: inout SplitMix64) -> [[BudgetedChoice.Option]] {
        (0..<Int.random(in: 1...6, using: &rng)).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                .init(error: Double.random(in: 0..<1, using: &rng), bytes: Int.random(in: 1...40, using: &rng))
            }
        }
    }

    @Test(.seeded) func knapsackFindsTheBruteForceOptimumWithinTheBudget() throws {
        var rng = SplitMix64(seed: TestSeed.current)
        for case_ in 0..<300 {
            let items = Self.table(&rng)
            let budget = Int.random(in: 0...120, using: &rng)
            guard let optimum = Self.bruteForce(items, budget: budget) else {
                #expect(throws: SlimError.self, "case \(case_): nothing fits \(budget)") { try BudgetedChoice.choose(items, budget: budget) }
                continue
            }
            let picks = try BudgetedChoice.choose(items, budget: budget)
            let bytes = zip(items, picks).reduce(0) { $0 + $1.0[$1.1].bytes }
            let error = zip(items, picks).reduce(0) { $0 + $1.0[$1.1].error }
            #expect(bytes <= budget, "case \(case_)")
            // Sums of the same doubles in another order: 1e-12 is far above their rounding, far below any gap between options.
            #expect(abs(error - optimum) < 1e-12, "case \(case_): \(error) vs the optimum \(optimum)")
            // Coarse units round bytes up: still within the budget, never better than the optimum.
            let coarse = try BudgetedChoice.choose(items, budget: budget, unit: 7)
            #expect(zip(items, coarse).reduce(0) { $0 + $1.0[$1.1].bytes } <= budget, "case \(case_), unit 7")
            #expect(zip(items, coarse).reduce(0) { $0 + $1.0[$1.1].error } >= optimum - 1e-12, "case \(case_), unit 7")
        }
    }

    @Test func knapsackOnAHandMadeTable() throws {
        // Two layers: the sensitive one should get the bytes.
        let items: [[BudgetedChoice.Option]] = [
            [.init(error: 0, bytes: 100), .init(error: 0.5, bytes: 25), .init(error: 0.9, bytes: 13)],
            [.init(error: 0, bytes: 100), .init(error: 0.01, bytes: 25), .init(error: 0.02, bytes: 13)],
        ]
        #expect(try BudgetedChoice.choose(items, budget: 200) == [0, 0])
        #expect(try BudgetedChoice.choose(items, budget: 113) == [0, 2])
        #expect(try BudgetedChoice.choose(items, budget: 50) == [1, 1])
        #expect(try BudgetedChoice.choose(items, budget: 38) == [1, 2])
        #expect(throws: SlimError.self) { try BudgetedChoice.choose(items, budget: 25) }
    }

    /// A 2-block BERT (hidden 128, MLP 256, 300 words) with random weights and a vocab.txt tokenizer.
    static func randomBert(_ folder: URL, seed: UInt64) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (h, ffn, vocab, positions) = (128, 256, 300, 64)
        let config: [String: Any] = ["model_type": "bert", "vocab_size": vocab, "hidden_size": h, "num_hidden_layers": 2,
                                     "num_attention_heads": 4, "intermediate_size": ffn, "max_position_embeddings": positions,
                                     "type_vocab_size": 2, "layer_norm_eps": 1e-12]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        try (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + Self.words.prefix(vocab - 5)).joined(separator: "\n")
            .write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        var rng = SplitMix64(seed: seed)
        var entries: [SafeTensorsWriter.Entry] = []
        func add(_ name: String, _ shape: [Int], _ value: (inout SplitMix64) -> Float) {
            let v = (0..<shape.reduce(1, *)).map { _ in value(&rng) }
            entries.append(.init(name: name, kind: .f32, shape: shape, data: v.withUnsafeBytes { Data($0) }))
        }
        let weight: (inout SplitMix64) -> Float = { Float.random(in: -0.1...0.1, using: &$0) }
        func norm(_ name: String) { add(name + ".weight", [h]) { _ in 1 }; add(name + ".bias", [h]) { _ in 0 } }
        add("embeddings.word_embeddings.weight", [vocab, h], weight)
        add("embeddings.position_embeddings.weight", [positions, h], weight)
        add("embeddings.token_type_embeddings.weight", [2, h], weight)
        norm("embeddings.LayerNorm")
        for i in 0..<2 {
            let p = "encoder.layer.\(i)."
            for (name, n, k) in [("attention.self.query", h, h), ("attention.self.key", h, h), ("attention.self.value", h, h),
                                 ("attention.output.dense", h, h), ("intermediate.dense", ffn, h), ("output.dense", h, ffn)] {
                add(p + name + ".weight", [n, k], weight)
                add(p + name + ".bias", [n], weight)
            }
            norm(p + "attention.output.LayerNorm")
            norm(p + "output.LayerNorm")
        }
        add("pooler.dense.weight", [h, h], weight)
        add("pooler.dense.bias", [h], weight)
        try SafeTensorsWriter.write(entries, to: folder.appendingPathComponent("model.safetensors"))
    }

    static let words: [String] = {
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        return letters + letters.flatMap { a in letters.map { a + $0 } }
    }()

    static func texts(_ count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in (0..<Int.random(in: 3...12, using: &rng)).map { _ in words.prefix(295).randomElement(using: &rng)! }.joined(separator: " ") }
    }

    @Test(.seeded) func randomBertFitsTheBudgetAndStoresWhatItsCardSays() throws {
        let source = Temporary.url("auto-src"), out = Temporary.url("auto-out")
        defer { for f in [source, out] { try? FileManager.default.removeItem(at: f) } }
        try Self.randomBert(source, seed: TestSeed.current)
        let calibration = (texts: Self.texts(12, seed: TestSeed.current &+ 1), backend: CPUBackend() as any Backend, source: "random words")
        let original = try SafeTensorsFile(contentsOf: source.appendingPathComponent("model.safetensors")).fileBytes
        let report = try AutoCompressor(targetSize: 0.25, calibration: calibration).compress(source, to: out, hashSource: false)
        let written = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("model.safetensors").path)[.size] as? Int
        let search = try #require(report.search)
        #expect(written == report.bytesAfter && report.bytesAfter <= search.budgetBytes && search.budgetBytes == Int(0.25 * Double(original)))
        #expect(report.bytesAfter <= search.predictedBytes, "the prediction bounds the file: \(report.bytesAfter) vs \(search.predictedBytes)")
        // 12 linear weights, 2 tables, the pooler; the measured candidates include 2:4 and low rank.
        #expect(search.layers.count == 15)
        #expect(search.layers.allSatisfy { $0.chosen.choice != .sparse24 })
        #expect(search.layers.filter { $0.name.contains("encoder") }.allSatisfy { l in l.measured.contains { $0.choice == .sparse24 } && l.measured.contains { if case .lowRank = $0.choice { true } else { false } } })

        // What config.json records is what the file holds and what the encoder runs.
        let config = try FileReading.jsonObject(at: out.appendingPathComponent("config.json"))
        let q = try #require(config["quantization_config"] as? [String: Any])
        let packed = try #require(q["layers"] as? [String: String])
        let records = try #require((q["auto"] as? [String: Any])?["layers"] as? [[String: Any]])
        let file = try SafeTensorsFile(contentsOf: out.appendingPathComponent("model.safetensors"))
        let names = Set(file.tensors.map(\.name))
        let embedder = try SentenceEmbedder.load(folder: out, backend: CPUBackend())
        let running = Dictionary(uniqueKeysWithValues: embedder.encoder.linearLayers.map { layer -> (String, String) in
            switch layer.weights {
            case .dense: (layer.name, "fp32")
            case let .quantized(w, _): (layer.name, w.format.description)
            case let .lowRank(a, _): (layer.name, "rank \(a.shape.innermost)")
            case .quantizedLowRank: (layer.name, "quantized low rank")
            }
        })
        #expect(records.count == 15)
        for record in records {
            let name = try #require(record["name"] as? String), choice = try #require(record["choice"] as? String)
            switch choice {
            case "fp32": #expect(names.contains(name) && packed[name] == nil, "\(name)")
            case let c where c.hasPrefix("rank "):
                #expect(try file.tensor(named: PackedNames.factorA(name)).shape.last == Int(c.dropFirst(5)) && packed[name] == nil, "\(name)")
            default: #expect(packed[name] == choice && names.contains(PackedNames.data(name)) && !names.contains(name), "\(name)")
            }
            if let run = running[name] { #expect(run == choice, "\(name) runs \(run), recorded \(choice)") }
        }
        let card = try FileReading.jsonObject(at: out.appendingPathComponent("model_card.json"))
        #expect((card["search"] as? [String: Any])?["predicted_bytes"] as? Int == search.predictedBytes)
        let markdown = try String(contentsOf: out.appendingPathComponent("MODEL_CARD.md"), encoding: .utf8)
        #expect(markdown.contains("## Auto search") && markdown.contains("encoder.layer.1.output.dense.weight"))

        // Below the smallest storage of every layer: a clear error, and no folder.
        let tight = Temporary.url("auto-tight")
        defer { try? FileManager.default.removeItem(at: tight) }
        do {
            _ = try AutoCompressor(targetSize: 0.05, calibration: calibration).compress(source, to: tight, hashSource: false)
            Issue.record("a 0.05 budget was met")
        } catch let e as SlimError {
            #expect(e.description.contains("raise --target-size"), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: tight.path))
        #expect(throws: SlimError.self) { try AutoCompressor(targetSize: 1.5, calibration: calibration) }
    }

    /// A low-rank choice is written by the compressor as fp32 factors beside the packed layers, and runs as two GEMMs.
    @Test(.seeded) func lowRankChoiceIsWrittenAsFactorsBesidePackedLayers() throws {
        let source = Temporary.url("auto-lr-src"), out = Temporary.url("auto-lr-out")
        defer { for f in [source, out] { try? FileManager.default.removeItem(at: f) } }
        try Self.randomBert(source, seed: TestSeed.current)
        let name = "encoder.layer.1.intermediate.dense.weight"
        var compressor = ModelCompressor(format: .int8PerChannel)
        compressor.layerFormats[name] = .some(nil)
        compressor.lowRank[name] = 16
        _ = try compressor.compress(source, to: out, hashSource: false)
        let embedder = try SentenceEmbedder.load(folder: out, backend: CPUBackend())
        for layer in embedder.encoder.linearLayers {
            switch layer.weights {
            case let .lowRank(a, b): #expect(layer.name == name && a.shape.innermost == 16 && b.shape.innermost == 128, "\(layer.name)")
            case let .quantized(w, _): #expect(layer.name != name && w.format == .int8PerChannel, "\(layer.name)")
            default: Issue.record("\(layer.name) is neither packed nor low rank")
            }
        }
    }
}
