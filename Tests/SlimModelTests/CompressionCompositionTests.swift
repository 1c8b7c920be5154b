import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// What `slim compress` does beyond one uniform format: the int4 size bound,
/// per-layer exceptions, and quantizing a low-rank model's factors.
@Suite(.serialized) struct CompressionCompositionTests {
    static func embeddings(_ folder: URL, _ texts: [String]) throws -> [[Float]] {
        try SentenceEmbedder.load(folder: folder, backend: CPUBackend()).embed(texts).map(\.vector)
    }

    /// The bound: int4-g128 at most 0.2x of the fp32 safetensors (tables int8).
    @Test func int4FolderIsAtMostAFifth() throws {
        let out = Temporary.url("int4-size")
        defer { try? FileManager.default.removeItem(at: out) }
        let report = try ModelCompressor(format: .int4(groupSize: 128, symmetric: true)).compress(try TestAssets.miniLM, to: out, hashSource: false)
        let ratio = Double(report.bytesAfter) / Double(report.bytesBefore)
        #expect(ratio <= 0.2, "int4-g128 folder is \(ratio)x")
    }

    @Test func perLayerExceptionsAreRecordedAndLoad() throws {
        let out = Temporary.url("layers")
        defer { try? FileManager.default.removeItem(at: out) }
        var compressor = ModelCompressor(format: .int4(groupSize: 128, symmetric: true))
        compressor.layerFormats = try LayerFormats.parse(["encoder.layer.0.output.dense=fp32", "encoder.layer.5.attention.self.query.weight=int8"])
        let report = try compressor.compress(try TestAssets.miniLM, to: out, hashSource: false)
        #expect(!report.layers.contains { $0.name == "encoder.layer.0.output.dense.weight" }, "the fp32 layer is not quantized")
        #expect(report.layers.first { $0.name == "encoder.layer.5.attention.self.query.weight" }?.format == "int8")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any]
        let layers = (config?["quantization_config"] as? [String: Any])?["layers"] as? [String: String]
        #expect(layers?["encoder.layer.5.attention.self.query.weight"] == "int8" && layers?["encoder.layer.0.output.dense.weight"] == nil)
        let embedder = try SentenceEmbedder.load(folder: out, backend: CPUBackend())
        let kinds = embedder.encoder.linearLayers.map { layer -> String in
            switch layer.weights { case .dense: "dense"; case let .quantized(q, _): q.format.description; default: "other" }
        }
        #expect(kinds[5] == "dense" && kinds[30] == "int8" && kinds[0] == "int4-g128", "\(kinds)")
        for bad in [["encoder.layer.9.output.dense=int8"], ["encoder.layer.0.output.dense"], ["encoder.layer.0.output.dense=int3"]] {
            let never = Temporary.url("bad-layers")
            defer { try? FileManager.default.removeItem(at: never) }
            #expect(throws: SlimError.self, "\(bad)") {
                var c = ModelCompressor(format: .int8PerChannel)
                c.layerFormats = try LayerFormats.parse(bad)
                _ = try c.compress(try TestAssets.miniLM, to: never, hashSource: false)
            }
        }
    }

    /// Low rank, then quantize: the factors are stored packed and run as two
    /// quantized products, close to the low-rank model they came from.
    @Test func lowRankThenQuantizeRunsPackedFactors() throws {
        let lowRank = Temporary.url("lr"), quantized = Temporary.url("lrq")
        defer { for f in [lowRank, quantized] { try? FileManager.default.removeItem(at: f) } }
        _ = try ModelLowRank(size: .rank(48)).factorize(try TestAssets.miniLM, to: lowRank, hashSource: false)
        let report = try ModelCompressor(format: .int8PerChannel).compress(lowRank, to: quantized, hashSource: false)
        #expect(report.layers.filter { $0.name.hasSuffix(".lowrank_a") || $0.name.hasSuffix(".lowrank_b") }.count == 6 * 6 * 2)
        let embedder = try SentenceEmbedder.load(folder: quantized, backend: CPUBackend())
        #expect(embedder.encoder.linearLayers.allSatisfy { if case .quantizedLowRank = $0.weights { true } else { false } })
        let texts = try MiniLMGoldenTests.golden().sentences
        let a = try Self.embeddings(lowRank, texts), b = try Self.embeddings(quantized, texts)
        let worst = zip(a, b).map { cosine($0, $1) }.min() ?? 0
        // int8 factors move a low-rank model about as little as int8 moves the original (≥ 0.998 there).
        #expect(worst >= 0.995, "worst cosine to the unquantized low-rank model \(worst)")
    }

    /// AWQ's scales for the attention output projection fold into the value
    /// projection (no run-time scale there); a wrong fold would wreck the
    /// embeddings, a right one keeps AWQ ahead of round-to-nearest.
    @Test func awqFoldsIntoTheValueProjection() throws {
        let awqOut = Temporary.url("awq-fold"), rtnOut = Temporary.url("rtn-fold")
        defer { for f in [awqOut, rtnOut] { try? FileManager.default.removeItem(at: f) } }
        let format = QuantFormat.int4(groupSize: 128, symmetric: true)
        var awq = ModelCompressor(format: format, method: .awq)
        awq.calibration = (try Calibration.samples(from: Calibration.defaultFile, count: 32), CPUBackend(), "fortunes")
        _ = try awq.compress(try TestAssets.miniLM, to: awqOut, hashSource: false)
        _ = try ModelCompressor(format: format).compress(try TestAssets.miniLM, to: rtnOut, hashSource: false)
        let names = try SafeTensorsFile(contentsOf: awqOut.appendingPathComponent("model.safetensors")).tensors.map(\.name)
        #expect(!names.contains { $0.hasSuffix("attention.output.dense.weight.input_scale") }, "folded: no run-time scale")
        #expect(names.contains { $0.hasSuffix("attention.self.value.weight.input_scale") }, "value's own input keeps its scale")
        let golden = try MiniLMGoldenTests.golden()
        func mean(_ folder: URL) throws -> Double {
            let c = zip(try Self.embeddings(folder, golden.sentences), golden.embeddings).map { cosine($0, $1) }
            return c.reduce(0, +) / Double(c.count)
        }
        let (a, r) = (try mean(awqOut), try mean(rtnOut))
        #expect(a > r, "AWQ (folded) mean cosine \(a) vs RTN \(r)")
    }
}
