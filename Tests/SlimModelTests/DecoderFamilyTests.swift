import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// Every decoder family against `transformers` itself (issue #16, Tests): tiny random-initialised
/// models that `scripts/make_decoder_fixtures.py` built with the transformers classes and saved as
/// sharded bf16/fp16 folders under `Tests/Fixtures/decoders/NAME/`, with the per-position NLL that
/// transformers computes (fp32 arithmetic on the stored weights, eager attention) in `reference.json`.
/// Norms and biases are drawn away from 1 and 0 and the weights are large enough that a wrong rotary
/// rule, a skipped norm or bias, or a misread fused tensor moves the mean NLL by > 0.05 nats (each
/// reference records such mutations under `sensitivity`), far above the tolerance here.
@Suite struct DecoderFamilyTests {
    /// The fixture folders, one case each (so each family reports on its own).
    static let families = ["llama3", "llama-linear", "mistral", "qwen2", "qwen3", "gemma", "phi3"]
    static let backends = ["cpu", "opencl"]

    /// Per position at most this far from transformers' NLL, and on average at most `meanTolerance`.
    static let positionTolerance = 5e-3
    static let meanTolerance = 1e-3

    struct Reference: Decodable {
        let model_type: String
        let dtype: String
        let text: String
        let token_ids: [Int32]
        let nll: [Double]
    }

    static func folder(_ name: String) throws -> URL { try TestAssets.fixture("decoders/\(name)") }

    static func reference(_ name: String) throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: try folder(name).appendingPathComponent("reference.json")))
    }

    /// Per-position NLL of `ids[t + 1]` after `ids[...t]`, in double (log-sum-exp over the logits row).
    static func nll(_ model: DecoderModel, _ ids: [Int32]) throws -> [Double] {
        let logits = try model.backend.floats(try model.logits(try model.hiddenStates(ids), rows: 0..<ids.count - 1))
        let v = model.config.vocabSize
        #expect(logits.count == (ids.count - 1) * v, "logits: \(logits.count) values for \(ids.count - 1) rows of \(v)")
        return (0..<ids.count - 1).map { r in
            let row = logits[r * v..<(r + 1) * v], peak = Double(row.max()!)
            return peak + log(row.reduce(0.0) { $0 + exp(Double($1) - peak) }) - Double(row[row.startIndex + Int(ids[r + 1])])
        }
    }

    @Test(arguments: families, backends)
    func nllEqualsTransformers(family: String, backend name: String) throws {
        let ref = try Self.reference(family)
        let backend = try TestBackends.named(name)
        let (model, _) = try DecoderModel.load(try Self.folder(family), backend: backend)
        let got = try Self.nll(model, ref.token_ids)
        try #require(got.count == ref.nll.count, "\(got.count) NLL values, the reference has \(ref.nll.count)")
        let deltas = zip(got, ref.nll).map { abs($0 - $1) }
        let worst = deltas.indices.max { deltas[$0] < deltas[$1] }!
        let mean = deltas.reduce(0, +) / Double(deltas.count)
        let summary = "\(family) (\(ref.model_type), \(ref.dtype)) on \(name): mean |dNLL| \(mean), worst \(deltas[worst]) at position \(worst) "
            + "(Slim \(got[worst]), transformers \(ref.nll[worst])); mean NLL Slim \(got.reduce(0, +) / Double(got.count)), "
            + "transformers \(ref.nll.reduce(0, +) / Double(ref.nll.count))"
        print(summary)
        #expect(got.allSatisfy { $0.isFinite }, "\(summary): non-finite NLL")
        #expect(deltas[worst] <= Self.positionTolerance, "\(summary)")
        #expect(mean <= Self.meanTolerance, "\(summary)")
    }

    /// The reference ids are the fixture tokenizer's encoding of the reference text (what the
    /// tokenizers library produced), so Slim reads the `tokenizer.json` the same way.
    @Test(arguments: families)
    func tokenizerReadsTheReferenceText(family: String) throws {
        let ref = try Self.reference(family)
        let tokenizer = try BPETokenizer(huggingFaceFolder: try Self.folder(family))
        #expect(tokenizer.encode(ref.text, addBOS: false) == ref.token_ids)
        #expect(tokenizer.decode(ref.token_ids) == ref.text)
    }

    /// No fixture folder goes untested (a new one must be added to `families`).
    @Test func everyFixtureFolderIsACase() throws {
        let root = try TestAssets.fixture("decoders")
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("reference.json").path)
        }
        #expect(Set(names) == Set(Self.families))
    }

    // MARK: refusals, each naming what is wrong

    /// A copy of a fixture folder (in the temporary directory) with `config.json` edited and
    /// the files named in `remove` left out; the caller removes it.
    static func edited(_ family: String, remove: [String] = [], _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let source = try folder(family), dir = try Temporary.folder("decoder-\(family)")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where !remove.contains(name) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let configURL = dir.appendingPathComponent("config.json")
        guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: configURL.path])
        }
        edit(&config)
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: configURL)
        return dir
    }

    /// Loading `dir` fails with a SlimError whose message contains every one of `names`.
    static func expectRefusal(_ dir: URL, naming names: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try DecoderModel.load(dir, backend: try TestBackends.named("cpu"))
            Issue.record("\(what): loaded instead of being refused", sourceLocation: sourceLocation)
        } catch let e as SlimError {
            print("\(what): \(e)")
            for name in names {
                #expect(e.description.contains(name), "\(what): the error does not name '\(name)': \(e)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("\(what): not a SlimError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func unknownModelTypeIsRefusedByName() throws {
        let dir = try Self.edited("llama3") { $0["model_type"] = "gpt_neox"; $0["architectures"] = ["GPTNeoXForCausalLM"] }
        defer { try? FileManager.default.removeItem(at: dir) }
        Self.expectRefusal(dir, naming: ["gpt_neox"], "model_type gpt_neox")
    }

    @Test func unknownRopeScalingIsRefusedByName() throws {
        // Legacy (transformers 4) form, as the llama3 fixture stores it.
        let yarn = try Self.edited("llama3") {
            $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32]
        }
        defer { try? FileManager.default.removeItem(at: yarn) }
        Self.expectRefusal(yarn, naming: ["yarn"], "rope_scaling yarn")
        // transformers 5 form (rope_parameters), as the llama-linear fixture stores it.
        let yarn5 = try Self.edited("llama-linear") {
            $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 32]
        }
        defer { try? FileManager.default.removeItem(at: yarn5) }
        Self.expectRefusal(yarn5, naming: ["yarn"], "rope_parameters yarn")
        // Phi-3 LongRoPE (Phi-3-mini-128k's form: rope_scaling.type "longrope", one factor per rotary pair).
        let longrope = try Self.edited("phi3") {
            $0["rope_parameters"] = nil
            $0["rope_theta"] = 10000.0
            $0["rope_scaling"] = ["type": "longrope", "short_factor": Array(repeating: 1.0, count: 8),
                                  "long_factor": Array(repeating: 4.0, count: 8)]
            $0["original_max_position_embeddings"] = 32
        }
        defer { try? FileManager.default.removeItem(at: longrope) }
        Self.expectRefusal(longrope, naming: ["longrope"], "Phi-3 longrope")
    }

    @Test func missingShardIsRefusedByName() throws {
        let shard = "model-00002-of-00006.safetensors"
        let dir = try Self.edited("llama3", remove: [shard])
        defer { try? FileManager.default.removeItem(at: dir) }
        Self.expectRefusal(dir, naming: [shard], "missing shard")
    }

    @Test func tensorShapeDisagreeingWithConfigIsRefusedByName() throws {
        // intermediate_size 112 in the shards; the config says 128: gate/up/down_proj disagree.
        let dir = try Self.edited("llama3") { $0["intermediate_size"] = 128 }
        defer { try? FileManager.default.removeItem(at: dir) }
        Self.expectRefusal(dir, naming: ["mlp."], "intermediate_size 128 vs 112 in the tensors")
    }
}
