import Foundation
import Testing
import TestSupport

/// `--weights` of `slim perplexity` (and `generate`, `eval`, which share it): a bf16
/// checkpoint keeps its 16-bit weights by default, with the perplexity of the fp32 copy.
@Suite struct FloatWeightsCLITests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/decoders/llama3").path

    @Test func storedBF16WeightsGiveTheFP32CopysPerplexity() throws {
        var ppl: [String: Double] = [:]
        for weights in ["stored", "f32", "bf16"] {
            let r = try slim(["perplexity", Self.fixture, "--file", "/usr/share/games/fortunes/wisdom", "--ctx", "32", "--chunks", "2",
                              "--weights", weights, "--backend", "cpu", "--json"])
            #expect(r.status == 0, "--weights \(weights): \(r.stderr)")
            let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            ppl[weights] = o?["ppl"] as? Double
        }
        let (stored, copy, bf16) = (try #require(ppl["stored"]), try #require(ppl["f32"]), try #require(ppl["bf16"]))
        // Same weight values, fp32 products and sums: only the order of additions differs.
        #expect(abs(stored - copy) <= 1e-4 * copy, "stored \(stored), f32 \(copy)")
        #expect(stored == bf16, "a bf16 checkpoint: stored and bf16 are the same weights (\(stored), \(bf16))")
    }

    @Test func unknownWeightsAreRefusedNamingTheChoices() throws {
        let r = try slim(["perplexity", Self.fixture, "--file", "/usr/share/games/fortunes/wisdom", "--weights", "fp8", "--backend", "cpu"])
        #expect(r.status != 0 && r.stderr.contains("stored, f32, bf16, f16"), "\(r.stderr)")
    }
}
