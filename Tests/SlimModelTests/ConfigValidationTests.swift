import Foundation
import SlimCore
import SlimCPU
import SlimModel
import Testing

/// Issue 21, configuration values: a size, head count or epsilon outside its
/// domain is refused with an error naming the file and the key as the file
/// spells it (a negative layer_norm_eps ran, printing NaN, with exit 0).
@Suite struct ConfigValidationTests {
    /// The key and path of an ``SlimError/invalidConfig(path:key:detail:)`` thrown by `body`.
    static func refusal(_ body: () throws -> Void) -> (path: String, key: String)? {
        do { try body() } catch let error as SlimError {
            if case let .invalidConfig(path, key, _) = error { return (path, key) }
            Issue.record("not an invalid-config error: \(error)")
        } catch {
            Issue.record("\(error)")
        }
        return nil
    }

    static func miniLMConfig(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("slim-config-\(UUID().uuidString).json")
        var o = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: try TestAssets.miniLM.appendingPathComponent("config.json"))) as? [String: Any])
        edit(&o)
        try JSONSerialization.data(withJSONObject: o).write(to: url)
        return url
    }

    static let bertCases: [(String, any Sendable)] = [
        ("layer_norm_eps", -1), ("layer_norm_eps", 0), ("layer_norm_eps", 1e-50), ("layer_norm_eps", "small"),
        ("hidden_size", 0), ("num_attention_heads", -2), ("num_attention_heads", 7), ("num_hidden_layers", 0),
        ("vocab_size", 0), ("intermediate_size", -1), ("max_position_embeddings", 0), ("type_vocab_size", -3),
    ]

    @Test(arguments: bertCases.indices)
    func bertConfigNamesTheBadKey(_ i: Int) throws {
        let (key, value) = Self.bertCases[i]
        let url = try Self.miniLMConfig { $0[key] = value }
        defer { try? FileManager.default.removeItem(at: url) }
        let r = Self.refusal { _ = try ModelConfig.load(url) }
        #expect(r?.key == key && r?.path == url.path, "\(key) = \(value): \(String(describing: r))")
    }

    /// Python's json writes NaN and Infinity, which JSON (and Foundation) cannot read: the key is still named.
    @Test(arguments: ["NaN", "-Infinity", "1e999"])
    func nonStandardNumbersNameTheirKey(_ literal: String) throws {
        let url = try Self.miniLMConfig { $0["layer_norm_eps"] = 12345.5 }
        defer { try? FileManager.default.removeItem(at: url) }
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "12345.5", with: literal)
        try text.write(to: url, atomically: true, encoding: .utf8)
        #expect(Self.refusal { _ = try ModelConfig.load(url) }?.key == "layer_norm_eps")
    }

    static let llamaCases: [(String, any Sendable)] = [
        ("rms_norm_eps", -1), ("rms_norm_eps", 0), ("rope_theta", 0), ("hidden_size", 0), ("num_hidden_layers", -1),
        ("num_attention_heads", 0), ("num_key_value_heads", 4), ("num_attention_heads", 5), ("vocab_size", 0), ("intermediate_size", 0),
        ("head_dim", 7),
    ]

    @Test(arguments: llamaCases.indices)
    func huggingFaceDecoderConfigNamesTheBadKey(_ i: Int) throws {
        let (key, value) = Self.llamaCases[i]
        var o: [String: Any] = ["model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
                                "num_key_value_heads": 3, "intermediate_size": 1536, "vocab_size": 49152, "rms_norm_eps": 1e-5]
        o[key] = value
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("slim-llama-config-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: o).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = Self.refusal { _ = try DecoderConfig(huggingFace: url) }
        #expect(r?.key == key && r?.path == url.path, "\(key) = \(value): \(String(describing: r))")
    }

    static let ggufCases: [(String, TestGGUF.Value)] = [
        ("llama.attention.layer_norm_rms_epsilon", .f32(-1)), ("llama.attention.layer_norm_rms_epsilon", .f32(0)),
        ("llama.attention.layer_norm_rms_epsilon", .f32(.nan)), ("llama.attention.layer_norm_rms_epsilon", .string("tiny")),
        ("llama.rope.freq_base", .f32(-10000)), ("llama.embedding_length", .u32(0)), ("llama.attention.head_count", .i32(-4)),
        ("llama.attention.head_count", .u32(3)), ("llama.attention.head_count_kv", .u32(3)), ("llama.feed_forward_length", .u32(0)),
        ("llama.block_count", .string("two")), ("llama.context_length", .u32(0)),
    ]

    @Test(arguments: ggufCases.indices)
    func ggufMetadataNamesTheBadKey(_ i: Int) throws {
        let (key, value) = Self.ggufCases[i]
        let data = try TinyLlama.gguf(seed: 1) { metadata, _ in
            metadata = metadata.map { $0.0 == key ? (key, value) : $0 }
        }
        let r = Self.refusal { _ = try DecoderConfig(gguf: try TestGGUF.parse(data, path: "/test/bad.gguf")) }
        #expect(r?.key == key && r?.path == "/test/bad.gguf", "\(key) = \(value): \(String(describing: r))")
    }
}
