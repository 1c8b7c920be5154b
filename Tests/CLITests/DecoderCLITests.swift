import Foundation
import Testing
import TestSupport

/// `slim tokenize`, `slim perplexity` and `slim generate` on the real models.
@Suite(.serialized) struct DecoderCLI {
    static var smolLM2: String {
        EmbedCLI.miniLM.replacingOccurrences(of: "all-MiniLM-L6-v2", with: "SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    @Test func tokenizeGivesEachModelsIDs() throws {
        let gguf = try slim(["tokenize", Self.smolLM2, "Hello, world.", "It's raining cats and dogs in São Paulo!", "--json"])
        #expect(gguf.status == 0, "\(gguf.stderr)")
        let rows = try #require(try Self.json(gguf.stdout) as? [[String: Any]])
        #expect(rows.map { $0["token_ids"] as? [Int] } == [[19556, 28, 905, 30], [1589, 506, 689, 1294, 7680, 284, 5046, 281, 40481, 36619, 17]])
        let bert = try slim(["tokenize", EmbedCLI.miniLM, "Hello, world.", "--json"])
        #expect(bert.status == 0, "\(bert.stderr)")
        #expect((try Self.json(bert.stdout) as? [[String: Any]])?.first?["token_ids"] as? [Int] == [101, 7592, 1010, 2088, 1012, 102])
        let special = try slim(["tokenize", Self.smolLM2, "<|im_start|>", "--json"])
        let literal = try slim(["tokenize", Self.smolLM2, "<|im_start|>", "--no-parse-special", "--json"])
        #expect((try Self.json(special.stdout) as? [[String: Any]])?.first?["token_ids"] as? [Int] == [1])
        #expect(((try Self.json(literal.stdout) as? [[String: Any]])?.first?["token_ids"] as? [Int])?.count ?? 0 > 1)
    }

    @Test func perplexityJSONHasTheFields() throws {
        let r = try slim(["perplexity", Self.smolLM2, "--file", "/usr/share/games/fortunes/wisdom", "--ctx", "64", "--chunks", "2",
                          "--backend", "cpu", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try Self.json(r.stdout) as? [String: Any])
        #expect(o["tokens_scored"] as? Int == 2 * 31)
        #expect((o["running_ppl"] as? [Double])?.count == 2)
        let ppl = try #require(o["ppl"] as? Double)
        #expect(ppl > 1 && ppl < 200, "a 64-token context still predicts text: \(ppl)")
        #expect((o["tokens_per_s"] as? Double ?? 0) > 0)
        let nll = try #require(o["token_nll"] as? [Double])
        #expect(nll.count == 2 * 31, "one NLL per scored token")
        #expect(abs(exp(nll.reduce(0, +) / Double(nll.count)) / ppl - 1) < 1e-9, "PPL is exp of their mean")
    }

    /// A model against itself: perplexities equal, KL 0, full agreement, every field there.
    @Test func evalOfTwoDecodersReportsKLDivergence() throws {
        let r = try slim(["eval", Self.smolLM2, Self.smolLM2, "--data", "/usr/share/games/fortunes/wisdom", "--ctx", "64", "--chunks", "1",
                          "--backend", "cpu", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try Self.json(r.stdout) as? [String: Any])
        #expect(o["tokens_scored"] as? Int == 31)
        #expect(o["ppl_original"] as? Double == o["ppl_compressed"] as? Double)
        for key in ["kl_divergence_mean", "kl_divergence_p99", "kl_divergence_max"] { #expect(o[key] as? Double == 0, "\(key)") }
        #expect(o["top1_agreement"] as? Double == 1 && o["delta_p_mean"] as? Double == 0)
        let text = try slim(["eval", Self.smolLM2, Self.smolLM2, "--ctx", "64", "--chunks", "1", "--backend", "cpu"])
        #expect(text.status == 0 && text.stdout.contains("KL divergence over 31 positions: mean 0.000000"), "\(text.stdout)\(text.stderr)")
    }

    @Test func generateStreamsGreedyTextAndReportsSpeed() throws {
        let r = try slim(["generate", Self.smolLM2, "The capital of France is", "--max-tokens", "3", "--backend", "cpu", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try Self.json(r.stdout) as? [String: Any])
        #expect(o["text"] as? String == " Paris.\n")
        #expect(o["generated_tokens"] as? Int == 3 && o["prompt_tokens"] as? Int == 5)
        #expect((o["tokens_per_s"] as? Double ?? 0) > 0)
        let streamed = try slim(["generate", Self.smolLM2, "The capital of France is", "--max-tokens", "3", "--backend", "cpu"])
        #expect(streamed.stdout == "The capital of France is Paris.\n\n", "the prompt, the text, a final newline")
        #expect(streamed.stderr.contains("tokens/s"))
    }

    /// A run that reaches the end of the context stops there with exit 0, says so, and with
    /// --json still prints the JSON, naming why it stopped.
    @Test func generateStopsCleanlyAtTheContextEnd() throws {
        let args = ["generate", Self.smolLM2, "The capital of France is", "--max-tokens", "20", "--ctx", "8", "--backend", "cpu"]
        let r = try slim(args + ["--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try Self.json(r.stdout) as? [String: Any])
        #expect(o["generated_tokens"] as? Int == 3 && o["prompt_tokens"] as? Int == 5, "5 prompt + 3 generated fill 8")
        #expect(o["stop_reason"] as? String == "context_full" && o["context"] as? Int == 8)
        #expect(o["text"] as? String == " Paris.\n", "the same greedy text as without the limit")
        let streamed = try slim(args)
        #expect(streamed.status == 0, "\(streamed.stderr)")
        #expect(streamed.stdout == "The capital of France is Paris.\n\n")
        #expect(streamed.stderr.contains("context of 8 tokens"), "\(streamed.stderr)")
        let reasons = try slim(["generate", Self.smolLM2, "The capital of France is", "--max-tokens", "2", "--backend", "cpu", "--json"])
        #expect((try Self.json(reasons.stdout) as? [String: Any])?["stop_reason"] as? String == "max_tokens")
    }

    /// The llama3 fixture's MLP is 112 wide: its down projection keeps int8 weights per row
    /// (112 is no multiple of 32), and the default int8-block activations must still run it,
    /// per row for that layer, rather than refuse a folder Slim wrote itself.
    @Test func aCompressedLayerOfOddWidthRunsWithDefaultActivations() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/decoders/llama3").path
        let out = Temporary.url("odd-width-int4")
        defer { try? FileManager.default.removeItem(at: out) }
        let made = try slim(["compress", fixture, "-o", out.path, "--quant", "int4-g32", "--method", "rtn", "--backend", "cpu"])
        #expect(made.status == 0, "\(made.stderr)")
        for activations in ["int8-block", "int8-row", "f32"] {
            let r = try slim(["perplexity", out.path, "--file", "/usr/share/games/fortunes/wisdom", "--ctx", "32", "--chunks", "2",
                              "--activations", activations, "--backend", "cpu", "--json"])
            #expect(r.status == 0, "--activations \(activations): \(r.stderr)")
        }
    }

    @Test func badInputIsAClearError() throws {
        let short = Temporary.url("short.txt")
        try "Too short.".write(to: short, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: short) }
        let r = try slim(["perplexity", Self.smolLM2, "--file", short.path, "--backend", "cpu"])
        #expect(r.status != 0 && r.stderr.contains("at least one chunk"), "\(r.stderr)")
        let empty = try slim(["generate", Self.smolLM2, "", "--backend", "cpu"])
        #expect(empty.status != 0 && empty.stderr.contains("tokenizes to nothing"), "\(empty.stderr)")
        let long = try slim(["perplexity", Self.smolLM2, "--file", short.path, "--ctx", "9000", "--backend", "cpu"])
        #expect(long.status != 0 && long.stderr.contains("8192"), "\(long.stderr)")
        let bert = try slim(["generate", EmbedCLI.miniLM, "Hi", "--backend", "cpu"])
        #expect(bert.status != 0, "a BERT folder is not a decoder")
        let activations = try slim(["generate", Self.smolLM2, "Hi", "--activations", "int3"])
        #expect(activations.status != 0 && activations.stderr.contains("int8-block"), "\(activations.stderr)")
    }
}
