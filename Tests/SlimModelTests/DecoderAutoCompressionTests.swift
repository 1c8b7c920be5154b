import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// `--method auto` on decoders: a format per group of linears under a size
/// budget, chosen by the KL divergence each group alone costs the next token.
@Suite struct DecoderAutoCompressionTests {
    /// The group the tests make sensitive: block 1's MLP output projection, with columns 0, 32 and 64
    /// ×`factor` and up's matching rows ÷`factor`, so the model computes the same function but each
    /// row of down has an outlier in every group of 32: int4's step there is `factor` times wider and
    /// rounds most of the group to 0, int8's is still fine. (Scaling a layer's output instead would make
    /// everything upstream sensitive too, and symmetric rounding's relative error ignores scale.)
    static let sensitive = "model.layers.1.mlp.down_proj.weight"
    static let outlierColumns = [0, 32, 64]

    /// TinyLlama calmed, so that no group but the sensitive one stands out (the norms' tenfold channels
    /// back to about 1: no activation outliers), with the outliers above.
    static func source(seed: UInt64, factor: Float) throws -> URL {
        let folder = try Temporary.folder("auto-decoder")
        let url = folder.appendingPathComponent("tiny.gguf")
        try TinyLlama.gguf(seed: seed) { _, tensors in
            for (i, t) in tensors.enumerated() {
                var values = t.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                if t.name.hasSuffix("norm.weight") { values = values.map { $0 > 5 ? $0 / 10 : $0 } }
                for j in outlierColumns {
                    if t.name == "blk.1.ffn_down.weight" {  // [hidden, ffn]: column j of every row
                        for r in 0..<TinyLlama.hidden { values[r * TinyLlama.ffn + j] *= factor }
                    }
                    if t.name == "blk.1.ffn_up.weight" {  // [ffn, hidden]: row j
                        for c in 0..<TinyLlama.hidden { values[j * TinyLlama.hidden + c] /= factor }
                    }
                }
                tensors[i] = .init(name: t.name, type: 0, dims: t.dims, data: values.withUnsafeBytes { Array($0) })
            }
        }.write(to: url)
        return url
    }

    static func compressor(_ targetSize: Double, seed: UInt64) throws -> DecoderAutoCompressor {
        var rng = SplitMix64(seed: seed &+ 1)
        var auto = try DecoderAutoCompressor(targetSize: targetSize,
                                             calibration: ((0..<24).map { _ in TinyLlama.text(40, using: &rng) }, CPUBackend(), "random words"))
        (auto.calibrationContext, auto.measureSequences, auto.measureContext) = (64, 3, 48)
        return auto
    }

    /// The sensitive group is measured as the most damaging at int4 and gets a
    /// wider format, while the budget keeps others at int4; the folder fits the
    /// budget, records the search, and runs.
    @Test(.seeded) func theSensitiveLayerGetsTheWiderFormat() throws {
        let source = try Self.source(seed: TestSeed.current, factor: 8)
        let folder = source.deletingLastPathComponent(), output = folder.appendingPathComponent("auto")
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try Self.compressor(0.22, seed: TestSeed.current).compress(source, to: output)
        let search = try #require(report.search)
        print(search.markdown)
        func int4Error(_ layer: (name: String, chosen: MeasuredChoice, measured: [MeasuredChoice])) -> Double {
            layer.measured.filter { if case let .quantized(f) = $0.choice, case .int4 = f { true } else { false } }.map(\.error).max()!
        }
        let sensitive = try #require(search.layers.first { $0.name == Self.sensitive })
        #expect(search.layers.allSatisfy { $0.name == Self.sensitive || int4Error($0) < int4Error(sensitive) },
                "outliers make block 1's down projection the most sensitive to int4")
        let wide: (LayerChoice) -> Bool = { if case .quantized(.int4) = $0 { false } else { true } }
        #expect(wide(sensitive.chosen.choice), "chosen: \(sensitive.chosen.choice)")
        #expect(search.layers.contains { !wide($0.chosen.choice) }, "the budget binds: some group stays int4")
        #expect(report.bytesAfter <= search.budgetBytes && search.predictedBytes <= search.budgetBytes)
        #expect(report.bytesAfter <= search.predictedBytes, "the prediction is an upper bound: \(report.bytesAfter) > \(search.predictedBytes)")

        let config = try FileReading.jsonObject(at: output.appendingPathComponent("config.json"))
        let quantization = try #require(config["quantization_config"] as? [String: Any])
        #expect(quantization["method"] as? String == "auto" && (quantization["auto"] as? [String: Any])?["error_measure"] != nil)
        let written = quantization["layers"] as? [String: String] ?? [:]
        for layer in search.layers {
            for name in layer.name.components(separatedBy: " + ") {
                #expect(written[name] == layer.chosen.choice.format?.description, "\(name) is written as chosen")
            }
        }
        // On held-out text the written model is closer to its source than int4-g32 everywhere (GPTQ, sequential), which fits the same budget.
        var uniform = DecoderCompressor(format: .int4(groupSize: 32, symmetric: true), method: .gptq)
        (uniform.calibration, uniform.calibrationContext) = (try Self.compressor(0.22, seed: TestSeed.current).calibration, 64)
        let uniformReport = try uniform.compress(source, to: folder.appendingPathComponent("int4-g32"))
        #expect(uniformReport.bytesAfter <= search.budgetBytes)
        let backend = CPUBackend()
        let (original, tokenizer) = try DecoderModel.load(source, backend: backend)
        var rng = SplitMix64(seed: TestSeed.current &+ 2)
        let windows = (0..<4).map { _ in
            let ids = Array(tokenizer.encode(TinyLlama.text(30, using: &rng)).prefix(TinyLlama.context))
            return ScoredWindow(ids: ids, rows: 0..<ids.count - 1)
        }
        func kl(_ folder: URL) throws -> Double {
            try Evaluation.compare(original: original, compressed: try DecoderModel.load(folder, backend: backend).0, windows: windows).comparison.klMean
        }
        let autoKL = try kl(output), uniformKL = try kl(folder.appendingPathComponent("int4-g32"))
        print("held-out KL: auto \(autoKL) (predicted \(search.predictedError)), int4-g32 everywhere \(uniformKL)")
        #expect(autoKL < uniformKL)
    }

    /// A budget below the smallest candidate of every group is refused by name, before anything is written.
    @Test(.seeded) func aBudgetTooSmallIsANamedError() throws {
        let source = try Self.source(seed: TestSeed.current, factor: 1)
        let folder = source.deletingLastPathComponent(), output = folder.appendingPathComponent("auto")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            try Self.compressor(0.05, seed: TestSeed.current).compress(source, to: output)
        } throws: { "\($0)".contains("--target-size 0.05") && "\($0)".contains("raise --target-size") }
        #expect(!FileManager.default.fileExists(atPath: output.path))
        #expect(throws: SlimError.self) { try DecoderAutoCompressor(targetSize: 1, calibration: ([], CPUBackend(), "")) }
    }
}
