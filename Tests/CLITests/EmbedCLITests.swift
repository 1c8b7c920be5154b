import Foundation
import Testing
import TestSupport

/// `slim embed` and `slim bench embed` on the real all-MiniLM-L6-v2 folder.
@Suite(.serialized) struct EmbedCLI {
    static var miniLM: String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["SLIM_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache/slim")
        return cache + "/models/all-MiniLM-L6-v2"
    }

    @Test func embedJSONGivesUnitVectorsAndTokenIDs() throws {
        let file = Temporary.url("embed.txt")
        try "The cat sat on the mat.\n\n   \nHello, world.\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try slim(["embed", Self.miniLM, "A man is playing a guitar.", "--file", file.path, "--backend", "cpu", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["text"] as? String } == ["A man is playing a guitar.", "The cat sat on the mat.", "Hello, world."])
        #expect(rows[0]["token_ids"] as? [Int] == [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102])
        for row in rows {
            let v = try #require(row["embedding"] as? [Double])
            #expect(v.count == 384)
            #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4, "embeddings are L2-normalised")
        }
        #expect(!r.stderr.contains("ETA"), "no progress line when stderr is not a terminal")
    }

    @Test func embedRejectsInvalidUTF8AndMissingModels() throws {
        let file = Temporary.url("bad.txt")
        try Data([0x61, 0x62, 0xFF, 0x63, 0x0A]).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let bad = try slim(["embed", Self.miniLM, "--file", file.path, "--backend", "cpu"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains(file.path) && bad.stderr.contains("UTF-8") && bad.stderr.contains("offset 2"), "\(bad.stderr)")
        let missing = try slim(["embed", "/nonexistent/model", "hello", "--backend", "cpu"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/model"), "\(missing.stderr)")
    }

    @Test func benchEmbedJSONHasItsFields() throws {
        let r = try slim(["bench", "embed", Self.miniLM, "--sentences", "8", "--batch-size", "4", "--runs", "1", "--backend", "cpu", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let row = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(row["backend"] as? String == "cpu")
        #expect((row["sentences_per_s"] as? Double ?? 0) > 0)
        #expect((row["median_ms"] as? Double ?? 0) > 0)
    }
}

@Suite struct BenchAttentionCLI {
    @Test func jsonHasTheFieldsOnEveryBackend() throws {
        func check(_ backends: String) throws {
            let r = try slim(["bench", "attention", "--layout", "window:40", "--seq", "200", "--heads", "2", "--dim", "32",
                              "--block", "32", "--backward", "--runs", "1", "--warmup", "0", "--backend", backends, "--json"])
            try #require(r.status == 0, "\(r.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            #expect(rows.map { $0["backend"] as? String } == backends.split(separator: ",").map(String.init))
            for row in rows {
                for key in ["backend", "layout", "seq", "median_ms", "gflops", "peak_bytes", "backward_ms"] {
                    #expect(row[key] != nil, "missing \(key) in \(row)")
                }
            }
        }
        let bad = try slim(["bench", "attention", "--layout", "zigzag:3", "--seq", "100", "--backend", "cpu"])
        #expect(bad.status != 0 && bad.stderr.contains("zigzag"))
        try check("cpu")
        try OpenCLHalf.require()
        try check("cpu,opencl")
    }
}

@Suite(.serialized) struct CompressCLI {
    @Test func compressThenEvalReportsFidelityAndSize() throws {
        let out = Temporary.url("cli-int8").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let c = try slim(["compress", EmbedCLI.miniLM, "-o", out, "--quant", "int8", "--json"])
        #expect(c.status == 0, "\(c.stderr)")
        let card = try #require(try JSONSerialization.jsonObject(with: Data(c.stdout.utf8)) as? [String: Any])
        #expect((card["size_ratio"] as? Double ?? 1) <= 0.3)
        let again = try slim(["compress", EmbedCLI.miniLM, "-o", out, "--quant", "int8"])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "an existing output is refused: \(again.stderr)")

        let e = try slim(["eval", EmbedCLI.miniLM, out, "--backend", "cpu", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        for key in ["mean_cosine", "min_cosine", "spearman_original", "spearman_compressed", "bytes_original", "bytes_compressed", "size_ratio"] {
            #expect(r[key] != nil, "missing \(key)")
        }
        #expect((r["mean_cosine"] as? Double ?? 0) >= 0.999)
        let embed = try slim(["embed", out, "The cat sat on the mat.", "--backend", "cpu", "--json"])
        #expect(embed.status == 0, "the compressed folder embeds: \(embed.stderr)")
    }
}
