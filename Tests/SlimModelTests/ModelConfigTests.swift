import Foundation
import SlimCore
import SlimCPU
import SlimModel
import Testing

/// config.json: an architecture Slim cannot run, or one that disagrees with
/// the weights, is a clear error naming the file.
@Suite struct ModelConfigTests {
    @Test func readsMiniLMConfig() throws {
        guard case let .bert(c) = try ModelConfig.load(try TestAssets.miniLM.appendingPathComponent("config.json")) else {
            Issue.record("MiniLM is a BERT model"); return
        }
        #expect(c == BertConfig(vocabSize: 30522, hiddenSize: 384, layers: 6, heads: 12, intermediateSize: 1536,
                                maxPositions: 512, typeVocabSize: 2, layerNormEpsilon: 1e-12))
    }

    @Test func unknownArchitectureIsAnError() throws {
        let dir = try TestAssets.editedMiniLM { $0["model_type"] = "mamba"; $0["architectures"] = ["MambaModel"] }
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try SentenceEmbedder.load(folder: dir, backend: CPUBackend())
            Issue.record("a mamba config loaded")
        } catch let e as SlimError {
            #expect(e.description.contains("mamba") && e.description.contains("config.json"), "\(e)")
        }
    }

    @Test func configThatDisagreesWithWeightsNamesTheTensor() throws {
        let dir = try TestAssets.editedMiniLM { $0["intermediate_size"] = 1024 }
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try SentenceEmbedder.load(folder: dir, backend: CPUBackend())
            Issue.record("a config with the wrong intermediate size loaded")
        } catch let e as SlimError {
            #expect(e.description.contains("encoder.layer.0.intermediate.dense.weight") && e.description.contains("model.safetensors"), "\(e)")
        }
    }

    @Test func malformedConfigIsAnError() throws {
        let dir = try TestAssets.editedMiniLM { $0["hidden_size"] = "wide" }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: SlimError.self) { _ = try SentenceEmbedder.load(folder: dir, backend: CPUBackend()) }
    }
}
