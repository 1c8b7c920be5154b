import Foundation
import Testing
import TestSupport

/// `slim compress --method auto`: the options it needs together are refused apart, before any work.
@Suite struct AutoCLITests {
    @Test(arguments: [
        (["--method", "auto"], "give --target-size"),
        (["--target-size", "0.2"], "add --method auto"),
        (["--target-size", "0.2", "--method", "gptq"], "add --method auto"),
        (["--target-size", "1.2", "--method", "auto"], "0 < F < 1"),
        (["--target-size", "0", "--method", "auto"], "0 < F < 1"),
        (["--target-size", "0.2", "--method", "auto", "--layer", "pooler.dense=fp32"], "no --layer"),
        (["--target-size", "0.2", "--method", "auto", "--layer", "model.layers.0.mlp.down_proj.weight=int8"], "no --layer"),
        (["--target-size", "nan", "--method", "auto"], "0 < F < 1"),
        (["--target-size", "0.2", "--method", "auto", "--act-order"], "add --method gptq"),
    ])
    func autoWithoutItsBudgetAndTheOtherWayRoundAreRefused(_ options: [String], _ expected: String) throws {
        let out = Temporary.url("auto-never-written")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try slim(["compress", "/nonexistent-model", "-o", out.path] + options)
        #expect(r.status != 0 && r.stderr.contains(expected), "\(options): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// A decoder (transformers' Qwen2 fixture: bf16, two blocks) compressed by KL divergence under a
    /// budget: the card records every group's choice and the weights fit; a budget below the smallest
    /// candidates is refused by name and writes nothing.
    @Test func decoderAutoFitsTheBudgetOrSaysWhyNot() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/decoders/qwen2").path
        let out = Temporary.url("auto-decoder")
        defer { try? FileManager.default.removeItem(at: out) }
        let options = ["--method", "auto", "--samples", "4", "--seq", "32", "--backend", "cpu", "--json"]
        let r = try slim(["compress", source, "-o", out.path, "--target-size", "0.6"] + options)
        #expect(r.status == 0, "\(r.stderr)")
        let card = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let search = try #require(card["search"] as? [String: Any])
        #expect((search["layers"] as? [[String: Any]])?.count == 2 * 4, "four groups a block")
        #expect(search["error_measure"] as? String == "mean KL divergence of the next token, nats")
        let written = try #require(card["bytes_after"] as? Int), budget = try #require(search["budget_bytes"] as? Int)
        #expect(written <= budget)
        try FileManager.default.removeItem(at: out)
        let small = try slim(["compress", source, "-o", out.path, "--target-size", "0.02"] + options)
        #expect(small.status != 0 && small.stderr.contains("raise --target-size"), "\(small.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
