import Foundation
import Testing

/// Issue 21, configuration values and GGUF counts end to end: a bad value is
/// an error naming the file and the key, exit 1, never NaN with exit 0 nor an
/// abort sizing memory from a count the tensors do not back.
@Suite(.serialized) struct BadConfigCLI {
    @Test(arguments: [("layer_norm_eps", -1.0), ("layer_norm_eps", 0.0), ("num_attention_heads", 5.0), ("hidden_size", 0.0)])
    func embedNamesTheBadConfigKey(_ key: String, _ value: Double) throws {
        let base = try ModelFixtures.workspace("config-\(key)-\(value)")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = try ModelFixtures.tinyBERT(base, "bert")
        try ModelFixtures.editConfig(model, key, value)
        let r = try slim(["embed", model.path, "a cat", "--backend", "cpu"])
        NonFiniteCLI.expectRefusal(r, [model.appendingPathComponent("config.json").path, "'\(key)'"], "\(key) = \(value)")
    }

    /// The SmolLM2 GGUF with one metadata value overwritten in place.
    static func patchedSmolLM2(_ base: URL, key: String, bytes: [UInt8]) throws -> URL {
        let gguf = try ModelFixtures.copy(DecoderCLI.smolLM2, to: base.appendingPathComponent("patched.gguf"))
        try ModelFixtures.patchGGUFMetadata(gguf, key: key, bytes: bytes)
        return gguf
    }

    @Test func generateNamesABadRMSEpsilon() throws {
        let base = try ModelFixtures.workspace("gguf-eps")
        defer { try? FileManager.default.removeItem(at: base) }
        let key = "llama.attention.layer_norm_rms_epsilon"
        let gguf = try Self.patchedSmolLM2(base, key: key, bytes: withUnsafeBytes(of: Float(-1).bitPattern.littleEndian) { Array($0) })
        let r = try slim(["generate", gguf.path, "Hello", "--max-tokens", "2", "--backend", "cpu"])
        NonFiniteCLI.expectRefusal(r, [gguf.path, "'\(key)'"], "generate")
    }

    /// block_count = 0xFFFFFFFF: generate aborted allocating 15 TB (exit 134), compress grew its memory.
    @Test func aBlockCountTheTensorsDoNotBackIsNamedBeforeAnythingIsAllocated() throws {
        let base = try ModelFixtures.workspace("gguf-blocks")
        defer { try? FileManager.default.removeItem(at: base) }
        let gguf = try Self.patchedSmolLM2(base, key: "llama.block_count", bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        let generate = try slim(["generate", gguf.path, "Hello", "--max-tokens", "2", "--backend", "cpu"])
        NonFiniteCLI.expectRefusal(generate, [gguf.path, "'llama.block_count'", "4294967295", "30 blocks"], "generate")
        let compress = try slim(["compress", gguf.path, "-o", base.appendingPathComponent("out").path, "--backend", "cpu"])
        NonFiniteCLI.expectRefusal(compress, [gguf.path, "'llama.block_count'"], "compress")
    }
}
