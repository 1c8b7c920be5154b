import Foundation
import Testing
import TestSupport

/// `slim compress --output-format compressed-tensors` and reading other tools' checkpoints, end to end.
@Suite struct CompressedTensorsCLI {
    static func fixture(_ path: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/\(path)").path
    }

    static func json(_ text: String) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) }

    /// A decoder fixture written as compressed-tensors runs in Slim and says what it is.
    @Test func compressedTensorsFolderRunsAndInspects() throws {
        let folder = try Temporary.folder("ct-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("ct").path
        let r = try slim(["compress", Self.fixture("decoders/llama-linear"), "-o", out, "--quant", "int4-g32", "--asym",
                          "--output-format", "compressed-tensors", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let config = try Self.json(try String(contentsOfFile: out + "/config.json", encoding: .utf8))
        let q = try #require(config["quantization_config"] as? [String: Any])
        #expect(q["quant_method"] as? String == "compressed-tensors" && q["format"] as? String == "pack-quantized")
        #expect((config["slim_compression"] as? [String: Any])?["method"] as? String == "rtn")
        let inspected = try slim(["inspect", out, "--json"])
        #expect(try Self.json(inspected.stdout)["quantization"] as? String == "compressed-tensors", "\(inspected.stderr)")
        let ppl = try slim(["perplexity", out, "--file", "/usr/share/games/fortunes/wisdom", "--ctx", "32", "--chunks", "1", "--backend", "cpu", "--json"])
        #expect(ppl.status == 0, "\(ppl.stderr)")
        #expect((try Self.json(ppl.stdout)["ppl"] as? Double ?? 0) > 1)
        // Again over it: Slim wrote it, so --overwrite replaces it.
        #expect(try slim(["compress", Self.fixture("decoders/llama-linear"), "-o", out, "--quant", "int8", "--output-format", "compressed-tensors",
                          "--activations", "int8-dynamic", "--overwrite"]).status == 0)
        let w8a8 = try Self.json(try String(contentsOfFile: out + "/config.json", encoding: .utf8))
        #expect((w8a8["quantization_config"] as? [String: Any])?["format"] as? String == "int-quantized")
    }

    @Test func otherToolsCheckpointsAreNamedByInspect() throws {
        for (name, kind) in [("gptq-g64-actorder", "gptq"), ("awq-g64", "awq"), ("ct-w8a8", "compressed-tensors")] {
            let r = try slim(["inspect", Self.fixture("quantized/\(name)"), "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try Self.json(r.stdout)["quantization"] as? String == kind, "\(name)")
        }
    }

    /// What compressed-tensors has no layout for is refused before any work, naming the options.
    @Test func formatsWithoutALayoutAreRefused() throws {
        let folder = try Temporary.folder("ct-cli-refuse")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("x").path
        for (arguments, words) in [(["--quant", "q4_0", "--output-format", "compressed-tensors"], ["compressed-tensors", "q4_0"]),
                                   (["--quant", "int4-g32", "--activations", "int8-dynamic"], ["--activations"]),
                                   (["--quant", "int8", "--output-format", "onnx"], ["--output-format", "onnx"])] {
            let r = try slim(["compress", Self.fixture("decoders/llama-linear"), "-o", out] + arguments)
            #expect(r.status != 0 && words.allSatisfy { r.stderr.contains($0) }, "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
