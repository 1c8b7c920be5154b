import Foundation
import Testing
import TestSupport

/// `slim eval` on two encoders with slices, robustness and the worst texts, end to end:
/// the JSON fields and the compressed folder's card (issue 22).
@Suite(.serialized) struct EncoderEvalCLI {
    @Test(.seeded) func slicesRobustnessAndWorstReachTheJSONAndTheCard() throws {
        let base = try Temporary.folder("cli-encoder-eval")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = base.appendingPathComponent("tiny"), out = base.appendingPathComponent("int8")
        let slices = base.appendingPathComponent("slices"), texts = base.appendingPathComponent("texts.txt")
        try TinyBERT.write(at: model, seed: TestSeed.current)
        try FileManager.default.createDirectory(at: slices, withIntermediateDirectories: true)
        let words = TinyBERT.words.dropFirst(5)
        for (name, start) in [("one", 0), ("two", 7)] {
            try (0..<6).map { i in words.dropFirst(start + i).prefix(5).joined(separator: " ") }.joined(separator: "\n")
                .write(to: slices.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try "".write(to: slices.appendingPathComponent("empty"), atomically: true, encoding: .utf8)
        try (0..<8).map { i in words.dropFirst(i).prefix(6).joined(separator: " ") }.joined(separator: "\n")
            .write(to: texts, atomically: true, encoding: .utf8)
        let c = try slim(["compress", model.path, "-o", out.path, "--quant", "int8", "--backend", "cpu"])
        #expect(c.status == 0, "\(c.stderr)")
        let args = ["eval", model.path, out.path, "--data", texts.path, "--slices", slices.path, "--max-per-slice", "4",
                    "--robustness", "--worst", "2", "--backend", "cpu"]
        let r = try slim(args + ["--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let rows = try #require(o["slices"] as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["empty", "one", "two"])
        #expect(rows[0]["skipped"] as? String == "the file has no text" && rows[1]["texts"] as? Double == 4)
        #expect((o["robustness"] as? [[String: Any]])?.count == 6 && (o["worst"] as? [[String: Any]])?.count == 2)
        #expect((o["calibration"] as? [String: Any])?["applies"] as? Bool == false)
        #expect(r.stderr.isEmpty || !r.stderr.contains("\r"), "no progress line when piped: \(r.stderr)")
        let md = try String(contentsOf: out.appendingPathComponent("MODEL_CARD.md"), encoding: .utf8)
        #expect(md.contains("## Evaluation: texts.txt, slices slices, robustness") && md.contains("### Slices") && md.contains("### Robustness"), "\(md)")
        let svg = "eval-texts-txt-slices-slices-robustness-slices.svg"
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(svg).path))
        let card = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("model_card.json"))) as? [String: Any])
        #expect((card["evaluations"] as? [String: Any])?["texts.txt, slices slices, robustness"] != nil)
        #expect((card["files"] as? [String])?.contains(svg) == true)
        let again = try slim(args)
        #expect(again.status == 0 && again.stdout.contains("slice one: 4 texts") && again.stdout.contains("typos: cosine mean"), "\(again.stdout)\(again.stderr)")
        let after = try String(contentsOf: out.appendingPathComponent("MODEL_CARD.md"), encoding: .utf8)
        #expect(after.components(separatedBy: "## Evaluation: texts.txt, slices slices, robustness").count == 2, "a second run replaces the first")
        let withoutSlices = try slim(["eval", model.path, out.path, "--max-per-slice", "4", "--backend", "cpu"])
        #expect(withoutSlices.status != 0 && withoutSlices.stderr.contains("--slices"), "\(withoutSlices.stderr)")
        let decoder = try slim(["eval", DecoderCLI.smolLM2, DecoderCLI.smolLM2, "--slices", slices.path, "--max-per-slice", "4", "--backend", "cpu"])
        #expect(decoder.status != 0 && decoder.stderr.contains("--chunks"), "a decoder's slices are bounded by --chunks: \(decoder.stderr)")
    }
}
