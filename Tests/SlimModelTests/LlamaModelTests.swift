import Foundation
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// The Llama decoder on the real SmolLM2 GGUF, and its bad-input errors.
@Suite(.serialized) struct DecoderModelTests {
    struct GoldenIDs: Decodable { let token_ids: [[Int32]] }

    /// Mean next-token NLL of the 16 reference sentences run as one sequence.
    func meanNLL(_ backend: any Backend) throws -> Double {
        let ids = try JSONDecoder().decode(GoldenIDs.self, from: Data(contentsOf: try TestAssets.smolLM2Golden)).token_ids.flatMap { $0 }
        let model = try DecoderModel(gguf: try GGUFFile(contentsOf: try TestAssets.smolLM2), backend: backend)
        let logits = try backend.floats(try model.logits(try model.hiddenStates(ids), rows: 0..<ids.count - 1))
        let v = model.config.vocabSize
        var nll = 0.0
        for r in 0..<ids.count - 1 {
            let row = logits[r * v..<(r + 1) * v], peak = Double(row.max()!)
            nll += peak + log(row.reduce(0.0) { $0 + exp(Double($1) - peak) }) - Double(row[row.startIndex + Int(ids[r + 1])])
        }
        return nll / Double(ids.count - 1)
    }

    @Test func configComesFromTheGGUFMetadata() throws {
        let c = try DecoderConfig(gguf: try GGUFFile(contentsOf: try TestAssets.smolLM2))
        #expect(c.layers == 30 && c.hiddenSize == 576 && c.heads == 9 && c.kvHeads == 3 && c.intermediateSize == 1536)
        #expect(c.vocabSize == 49152 && c.rotaryDim == 64 && c.ropeBase == 100_000 && c.contextLength == 8192)
    }

    /// A language model predicts real text far better than chance (ln 49152 ≈ 10.8 nats), and
    /// both backends agree: the weights, RoPE style and attention are wired as the file means.
    @Test func predictsTextAndBackendsAgree() throws {
        let cpu = try meanNLL(CPUBackend())
        #expect(cpu < 5, "mean NLL \(cpu) nats")
        let cl = try meanNLL(try TestBackends.openCL())
        #expect(abs(cl - cpu) < 1e-3, "OpenCL \(cl) vs CPU \(cpu)")
    }

    @Test func cachedDecodingEqualsAFreshRun() throws {
        let model = try DecoderModel(gguf: try GGUFFile(contentsOf: try TestAssets.smolLM2), backend: CPUBackend())
        let ids: [Int32] = [504, 6132, 2342, 6641, 22463, 1834, 30, 49, 555, 314, 4464, 253]
        let cache = try model.makeCache(capacity: 32)
        _ = try model.hiddenStates(Array(ids.prefix(9)), cache: cache)
        let stepped = try model.backend.floats(try model.logits(try model.hiddenStates(Array(ids[9...]), cache: cache), rows: 2..<3))
        let fresh = try model.backend.floats(try model.logits(try model.hiddenStates(ids), rows: 11..<12))
        // One row of logits each: an empty result must not pass as "no difference".
        #expect(stepped.count == model.config.vocabSize && fresh.count == model.config.vocabSize)
        let worst = zip(stepped, fresh).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-3, "logits after the cache differ by \(worst)")
        #expect(cache.count == 12)
    }

    @Test func badInputIsAClearError() throws {
        let mamba = TestGGUF.file(metadata: [("general.architecture", .string("mamba"))])
        do {
            _ = try DecoderModel(gguf: try TestGGUF.parse(mamba), backend: CPUBackend())
            Issue.record("a mamba GGUF loaded")
        } catch let e as SlimError {
            #expect(e.description.contains("mamba"), "\(e)")
        }
        let missing = TestGGUF.file(metadata: [("general.architecture", .string("llama")), ("llama.block_count", .u32(2))])
        #expect(throws: SlimError.self) { try DecoderModel(gguf: try TestGGUF.parse(missing), backend: CPUBackend()) }
        let model = try DecoderModel(gguf: try GGUFFile(contentsOf: try TestAssets.smolLM2), backend: CPUBackend())
        #expect(throws: SlimError.self) { try model.generate(prompt: [], maxTokens: 4) { _ in } }
        #expect(throws: SlimError.self) { try model.perplexity(tokens: [1, 2, 3], context: 512) }
        #expect(throws: SlimError.self) { try model.makeCache(capacity: 9000) }
    }
}
