import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Round-to-nearest compression of the real MiniLM into Slim's compressed folder,
/// loaded back on both backends.
@Suite(.serialized) struct CompressionTests {
    @Test func int8FolderLoadsAndEmbedsCloseToTheOriginalOnBothBackends() throws {
        let source = try TestAssets.miniLM, out = Temporary.url("int8")
        defer { try? FileManager.default.removeItem(at: out) }
        let before = try FileManager.default.attributesOfItem(atPath: source.appendingPathComponent("model.safetensors").path)
        let report = try ModelCompressor(format: .int8PerChannel).compress(source, to: out, hashSource: false)
        #expect(Double(report.bytesAfter) <= 0.3 * Double(report.bytesBefore), "int8 folder \(report.bytesAfter) of \(report.bytesBefore) bytes")
        #expect(report.layers.count == 6 * 6 + 3, "every linear layer, the pooler, the word and position tables")
        for name in ["config.json", "model.safetensors", "MODEL_CARD.md", "model_card.json", "vocab.txt", "tokenizer.json", "1_Pooling/config.json"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name) in the folder")
        }
        let after = try FileManager.default.attributesOfItem(atPath: source.appendingPathComponent("model.safetensors").path)
        #expect(before[.modificationDate] as? Date == after[.modificationDate] as? Date, "the source is never modified")

        let golden = try MiniLMGoldenTests.golden()
        func embedsClose(on backend: any Backend) throws {
            let embedder = try SentenceEmbedder.load(folder: out, backend: backend)
            let packed = embedder.encoder.linearLayers.allSatisfy { if case .quantized = $0.weights { true } else { false } }
            #expect(packed, "the compressed folder loads packed, never expanded")
            let cosines = zip(try embedder.embed(golden.sentences), golden.embeddings).map { cosine($0.vector, $1) }
            let mean = cosines.reduce(0, +) / Double(cosines.count), worst = cosines.min() ?? 0
            print("int8 RTN folder on \(backend.id): mean cosine \(mean), worst \(worst)")
            #expect(mean >= 0.999 && worst >= 0.998, "\(backend.id): mean cosine \(mean), worst \(worst) to the original embeddings")
        }
        try embedsClose(on: CPUBackend())
        try embedsClose(on: try TestBackends.openCL())
    }

    @Test func existingOutputIsRefusedUnlessOverwrite() throws {
        let source = try TestAssets.miniLM, out = Temporary.url("exists")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        // An empty folder is written without --overwrite; Slim's own folder then needs it (refused before any work).
        _ = try ModelCompressor(format: .q8_0).compress(source, to: out, hashSource: false)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path))
        #expect(throws: SlimError.self) { try ModelCompressor(format: .q8_0).compress(source, to: out, hashSource: false) }
    }

    @Test func groupSizeThatDoesNotDivideTheLayerIsAnError() throws {
        let out = Temporary.url("badgroup")
        defer { try? FileManager.default.removeItem(at: out) }
        do {
            _ = try ModelCompressor(format: .int4(groupSize: 256, symmetric: true)).compress(try TestAssets.miniLM, to: out, hashSource: false)
            Issue.record("groups of 256 cannot tile rows of 384")
        } catch let e as SlimError {
            #expect(e.description.contains("encoder.layer.0"), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing is left behind")
    }

    @Test func spearmanRanksTiesByTheirMean() {
        #expect(Evaluation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
        #expect(abs(Evaluation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-12)
        // Ranks with a tie: [1, 2.5, 2.5, 4] against [1, 2, 3, 4]: r = 0.9486833.
        #expect(abs(Evaluation.spearman([1, 5, 5, 9], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-9)
    }
}

@Suite struct CalibrationTests {
    @Test func fortunesSplitIntoEntriesAndHessiansCoverEveryLinearInput() throws {
        let texts = try Calibration.samples(from: Calibration.defaultFile, count: 3)
        #expect(texts.count == 3 && texts.allSatisfy { !$0.isEmpty && !$0.contains("%") })
        let embedder = try SentenceEmbedder.load(folder: try TestAssets.miniLM, backend: CPUBackend())
        let h = try Calibration.hessians(embedder, texts: texts)
        #expect(h.count == 6 * 4, "per block: Q/K/V's shared input, attention output, intermediate, down")
        let down = try #require(h["encoder.layer.0.output.dense.weight"])
        #expect(down.count == 1536 * 1536)
        let k = 1536
        #expect((0..<k).allSatisfy { down[$0 * k + $0] >= 0 }, "2·XᵀX has a non-negative diagonal")
        #expect(abs(down[3 * k + 7] - down[7 * k + 3]) <= 1e-3 * max(1, abs(down[3 * k + 7])), "and is symmetric")
    }

    @Test func emptyCalibrationFileIsAnError() throws {
        let url = Temporary.url("empty.txt")
        try "\n\n%\n%\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: SlimError.self) { try Calibration.samples(from: url, count: 8) }
    }
}

@Suite struct PruningTests {
    @Test func nOfMKeepsTheLargestInEveryRun() throws {
        var w: [Float] = [0.1, -3, 2, 0.5, 4, 0.2, -0.3, 1]
        try Pruner(pattern: .nOfM(n: 2, m: 4), method: .magnitude).prune(&w, rows: 1, columns: 8, inputNorms: nil)
        #expect(w == [0, -3, 2, 0, 4, 0, 0, 1])
    }

    @Test func wandaWeighsByInputNormsPerRow() throws {
        // Column 0 carries big inputs: its small weights survive Wanda but not magnitude.
        let w: [Float] = [0.1, 1, 2, 3, 0.2, 3, 2, 1]
        var wanda = w, magnitude = w
        try Pruner(pattern: .unstructured(0.5), method: .wanda).prune(&wanda, rows: 2, columns: 4, inputNorms: [100, 1, 1, 1])
        try Pruner(pattern: .unstructured(0.5), method: .magnitude).prune(&magnitude, rows: 2, columns: 4, inputNorms: nil)
        #expect(wanda == [0.1, 0, 0, 3, 0.2, 3, 0, 0])
        #expect(magnitude == [0, 0, 2, 3, 0, 3, 2, 0])
        #expect(throws: SlimError.self) { try Pruner(pattern: .unstructured(0.5), method: .wanda).prune(&wanda, rows: 2, columns: 4, inputNorms: nil) }
    }

    @Test func patternsParse() throws {
        #expect(try PruningPattern(parsing: "2:4") == .nOfM(n: 2, m: 4))
        #expect(try PruningPattern(parsing: "unstructured:0.5") == .unstructured(0.5))
        for bad in ["4:2", "unstructured:1.5", "half"] { #expect(throws: SlimError.self) { try PruningPattern(parsing: bad) } }
    }

    @Test func prunedMiniLMLoadsAndChainsIntoQuantization() throws {
        let pruned = Temporary.url("pruned"), quantized = Temporary.url("pruned-int8")
        defer { try? FileManager.default.removeItem(at: pruned); try? FileManager.default.removeItem(at: quantized) }
        let report = try ModelPruner(pattern: .nOfM(n: 2, m: 4), method: .magnitude).prune(try TestAssets.miniLM, to: pruned, hashSource: false)
        #expect(report.layers.count == 36)
        let file = try SafeTensorsFile(contentsOf: pruned.appendingPathComponent("model.safetensors"))
        let w = try file.floats(try file.tensor(named: "encoder.layer.3.intermediate.dense.weight"))
        #expect(stride(from: 0, to: w.count, by: 4).allSatisfy { g in (g..<g + 4).filter { w[$0] != 0 }.count <= 2 }, "2 of every 4 kept")
        _ = try ModelCompressor(format: .int8PerChannel).compress(pruned, to: quantized, hashSource: false)
        let card = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: quantized.appendingPathComponent("model_card.json"))) as? [String: Any])
        #expect((card["history"] as? [[String: Any]])?.first?["method"] as? String == "prune-magnitude", "the card keeps the pruning step")
        let embedder = try SentenceEmbedder.load(folder: quantized, backend: CPUBackend())
        #expect(try embedder.embed(["The cat sat on the mat."])[0].vector.count == 384)
    }
}

@Suite struct LowRankTests {
    /// An exactly rank-3 matrix comes back exactly from rank 3, tall and wide, and loses
    /// what Eckart–Young says at rank 2.
    @Test(.seeded, arguments: [(40, 24), (24, 40)])
    func exactRankIsRecovered(_ size: (Int, Int)) throws {
        let (n, k) = size
        var g = SplitMix64(seed: TestSeed.current)
        let u = g.matrix(n * 3), v = g.matrix(3 * k)
        var w = [Float](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { for c in 0..<3 { w[i * k + j] += u[i * 3 + c] * v[c * k + j] * Float(4 - c) } } }
        let f = try LowRankFactors(w, rows: n, columns: k, rank: 3)
        #expect(relativeError(w, f.product) < 1e-5, "\(n)x\(k): rank 3 reproduces a rank-3 matrix")
        let f2 = try LowRankFactors(w, rows: n, columns: k, rank: 2)
        let e2 = relativeError(w, f2.product)
        #expect(e2 > 0.01 && e2 < 0.9, "rank 2 drops the smallest direction: \(e2)")
        #expect(LowRankFactors.rank(keeping: 0.5, rows: 384, columns: 1536) == 153)
    }

    @Test func factorizedMiniLMLoadsAndRunsTwoGEMMs() throws {
        let out = Temporary.url("lowrank")
        defer { try? FileManager.default.removeItem(at: out) }
        _ = try ModelLowRank(size: .rank(8)).factorize(try TestAssets.miniLM, to: out, hashSource: false)
        let embedder = try SentenceEmbedder.load(folder: out, backend: CPUBackend())
        let lowRank = embedder.encoder.linearLayers.allSatisfy { if case .lowRank = $0.weights { true } else { false } }
        #expect(lowRank, "every linear layer runs as its two factors")
        #expect(try embedder.embed(["Hello, world."])[0].vector.count == 384)
    }
}
