import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Issue 22's evaluation: slices and their flags, perturbations, calibration error, the card record.
@Suite struct EvaluationSuiteTests {
    /// The tiny Llama with an untied output projection (a copy of its embedding table), so zeroing
    /// embedding rows changes only texts that hold those tokens; `damaged` zeroes the rows of v…z.
    static func untiedTinyLlama(seed: UInt64, damaged: Bool, at url: URL) throws {
        try TinyLlama.gguf(seed: seed) { _, tensors in
            let i = tensors.firstIndex { $0.name == "token_embd.weight" }!
            var output = tensors[i]
            output.name = "output.weight"
            tensors.append(output)
            guard damaged else { return }
            for letter in "vwxyz" {
                let row = TinyLlama.tokens.firstIndex(of: String(letter))!, width = 4 * TinyLlama.hidden
                tensors[i].data.replaceSubrange(row * width..<(row + 1) * width, with: [UInt8](repeating: 0, count: width))
            }
        }.write(to: url)
    }

    static func words(_ count: Int, from letters: String, using rng: inout SplitMix64) -> String {
        (0..<count).map { _ in String((0..<Int.random(in: 2...5, using: &rng)).map { _ in letters.randomElement(using: &rng)! }) }
            .joined(separator: " ")
    }

    /// Texts of one slice use the damaged embedding rows: exactly that slice is flagged; an
    /// undamaged copy flags nothing. Files that cannot be evaluated are reported skips.
    @Test(.seeded) func aDamagedRegionFlagsExactlyItsSlice() throws {
        let folder = try Temporary.folder("slices")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (source, damaged, copy) = (folder.appendingPathComponent("a.gguf"), folder.appendingPathComponent("b.gguf"), folder.appendingPathComponent("c.gguf"))
        try Self.untiedTinyLlama(seed: TestSeed.current, damaged: false, at: source)
        try Self.untiedTinyLlama(seed: TestSeed.current, damaged: true, at: damaged)
        try Self.untiedTinyLlama(seed: TestSeed.current, damaged: false, at: copy)
        let slices = folder.appendingPathComponent("slices")
        try FileManager.default.createDirectory(at: slices, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: TestSeed.current &+ 1)
        try Self.words(60, from: "abcdefgh", using: &rng).write(to: slices.appendingPathComponent("plain"), atomically: true, encoding: .utf8)
        try Self.words(60, from: "abcvwxyz", using: &rng).write(to: slices.appendingPathComponent("rare"), atomically: true, encoding: .utf8)
        try Self.words(60, from: "defghijk", using: &rng).write(to: slices.appendingPathComponent("other"), atomically: true, encoding: .utf8)
        try "".write(to: slices.appendingPathComponent("empty"), atomically: true, encoding: .utf8)
        try "abc".write(to: slices.appendingPathComponent("short"), atomically: true, encoding: .utf8)
        try Data([0, 1, 2, 0]).write(to: slices.appendingPathComponent("index.dat"))
        let backend = CPUBackend()
        let (model, tokenizer) = try DecoderModel.load(source, backend: backend)
        func rows(_ other: URL) throws -> [SliceRow] {
            var e = DecoderEvaluator(original: model, compressed: try DecoderModel.load(other, backend: backend).0, tokenizer: tokenizer)
            (e.context, e.chunks, e.slices) = (32, 3, .folder(slices))
            return try e.run(text: try String(contentsOf: slices.appendingPathComponent("plain"), encoding: .utf8), entries: []).slices
        }
        let hurt = try rows(damaged)
        #expect(hurt.map(\.name) == ["empty", "other", "plain", "rare", "short"], "the binary index is no slice")
        #expect(hurt.filter(\.flagged).map(\.name) == ["rare"], "\(hurt.map { ($0.name, $0.degradation ?? -1) })")
        #expect(hurt.first { $0.name == "plain" }?.degradation == 0, "texts without v…z run identically")
        #expect(hurt.first { $0.name == "empty" }?.skipped == "the file has no text")
        #expect(hurt.first { $0.name == "short" }?.skipped?.contains("fewer than one chunk of 32") == true)
        let clean = try rows(copy)
        #expect(clean.allSatisfy { !$0.flagged }, "an undamaged copy flags nothing")
        let empty = try Temporary.folder("no-text")
        defer { try? FileManager.default.removeItem(at: empty) }
        try Data([0, 0]).write(to: empty.appendingPathComponent("x.dat"))
        #expect { try EvaluationSlices.folder(empty) } throws: { ($0 as? SlimError)?.description.contains(empty.path) == true }
    }

    @Test func byLengthBucketsByTokenCount() {
        let slices = EvaluationSlices.byLength(["a", "b c", String(repeating: "w ", count: 40), String(repeating: "w ", count: 300)]) {
            $0.split(separator: " ").count
        }
        #expect(slices.map(\.name) == ["0-15 tokens", "32-63 tokens", "128+ tokens"])
        #expect(slices.map(\.texts.count) == [2, 1, 1])
    }

    /// ECE over 15 equal-width bins against a float64 reference written out here.
    @Test(.seeded) func expectedCalibrationErrorMatchesTheReference() {
        // Bin 0 holds 0.05 twice (accuracy ½), bin 14 holds 0.95, 0.95 and 1.0 (accuracy ⅔):
        // ECE = ⅖·|½ − 0.05| + ⅗·|⅔ − 0.9667| = 0.18 + 0.18.
        let hand = ReliabilityBins(confidences: [0.05, 0.05, 0.95, 0.95, 1.0], correct: [false, true, true, true, false])
        #expect(abs(hand.expectedCalibrationError - 0.36) < 1e-12)
        var rng = SplitMix64(seed: TestSeed.current)
        let n = 1000
        let confidence = (0..<n).map { _ in Double(rng.next() >> 11) / Double(1 << 53) }
        let correct = (0..<n).map { _ in rng.next() % 3 == 0 }
        var count = [Double](repeating: 0, count: 15), conf = count, hits = count
        for (c, ok) in zip(confidence, correct) {
            let b = min(Int((c * 15).rounded(.down)), 14)
            count[b] += 1; conf[b] += c; hits[b] += ok ? 1 : 0
        }
        let reference = (0..<15).reduce(0.0) { $0 + (count[$1] == 0 ? 0 : count[$1] / Double(n) * abs(hits[$1] / count[$1] - conf[$1] / count[$1])) }
        #expect(abs(ReliabilityBins(confidences: confidence, correct: correct).expectedCalibrationError - reference) < 1e-12)
    }

    /// Each perturbation is repeatable for a seed and changes the text only as it documents.
    @Test(.seeded) func perturbationsAreSeededAndDoWhatTheySay() {
        var rng = SplitMix64(seed: TestSeed.current)
        let text = (0..<4).map { _ in Self.words(50, from: "abcdefghijklmnoprstuvxy", using: &rng) }.joined(separator: "\n")
        let seed = TestSeed.current &+ 1
        for p in Perturbation.allCases {
            let out = p.apply(text, seed: seed, rate: 0.3)
            #expect(out == p.apply(text, seed: seed, rate: 0.3), "\(p) repeats for its seed")
            #expect(out != text, "\(p) changed nothing")
        }
        let words = text.split(separator: " ").map(String.init)
        let typos = Perturbation.typos.apply(text, seed: seed, rate: 0.3).split(separator: " ").map(String.init)
        #expect(typos.count == words.count)
        for (a, b) in zip(words, typos) where a != b {
            let diff = zip(a, b).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(a.count == b.count && diff.count == 2 && diff[1] == diff[0] + 1 && Array(a)[diff[0]] == Array(b)[diff[1]], "\(a) → \(b)")
        }
        let upper = Perturbation.caseChange.apply(text, seed: seed, rate: 0.3).split(separator: " ").map(String.init)
        #expect(zip(words, upper).allSatisfy { $0 == $1 || $0.uppercased() == $1 })
        let spaced = Perturbation.whitespace.apply(text, seed: seed, rate: 0.3)
        #expect(spaced.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "  ", with: " ") == text)
        let glyphs = Perturbation.homoglyphs.apply(text, seed: seed, rate: 0.3)
        #expect(String(glyphs.map { c in ["а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "і": "i"][c] ?? c }) == text)
        let accents = Perturbation.accents.apply(text, seed: seed, rate: 0.3)
        #expect(String(accents.map { c in ["à": "a", "é": "e", "î": "i", "ö": "o", "ü": "u", "ñ": "n"][c] ?? c }) == text)
        let cut = Perturbation.truncation.apply(text, seed: seed).split(separator: "\n").map { $0.split(separator: " ").count }
        #expect(cut == [25, 25, 25, 25])
    }

    /// A second evaluation of the same kind replaces the first in both card files; another kind
    /// is added beside it; the card's file list names every file the folder holds.
    @Test func recordsReplaceTheSameKindAndKeepTheFileList() throws {
        let folder = try Temporary.folder("card")
        defer { try? FileManager.default.removeItem(at: folder) }
        try JSONOutput.data(["slim_version": "0.1.0", "files": ["MODEL_CARD.md", "model_card.json"]])
            .write(to: folder.appendingPathComponent("model_card.json"))
        try "# Compressed with Slim\n\n- Source: x\n".write(to: folder.appendingPathComponent("MODEL_CARD.md"), atomically: true, encoding: .utf8)
        let input = folder.deletingLastPathComponent().appendingPathComponent("source")
        for (kind, body) in [("wisdom", "first"), ("wisdom, slices fortunes", "other"), ("wisdom", "second")] {
            let record = EvaluationRecord(kind: kind, json: ["body": body], markdown: "- \(body)\n",
                                          plots: ["\(EvaluationRecord.slug(kind))-a.svg": "<svg/>"])
            try record.record(in: folder, inputs: [input])
        }
        let md = try String(contentsOf: folder.appendingPathComponent("MODEL_CARD.md"), encoding: .utf8)
        #expect(md.hasPrefix("# Compressed with Slim\n\n- Source: x\n"))
        #expect(!md.contains("- first") && md.contains("- second") && md.contains("- other"), "\(md)")
        #expect(md.components(separatedBy: "## Evaluation: wisdom\n").count == 2, "one section per kind")
        let card = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("model_card.json"))) as? [String: Any])
        let evaluations = try #require(card["evaluations"] as? [String: [String: Any]])
        #expect(evaluations["wisdom"]?["body"] as? String == "second" && evaluations.count == 2)
        let listed = Set(card["files"] as? [String] ?? [])
        #expect(OutputPolicy.relativeFiles(in: folder).isSubset(of: listed), "\(OutputPolicy.relativeFiles(in: folder)) vs \(listed)")
        let plain = try Temporary.folder("not-slim")
        defer { try? FileManager.default.removeItem(at: plain) }
        #expect(throws: SlimError.self, "a folder Slim did not write is not touched") {
            try EvaluationRecord(kind: "k", json: [:], markdown: "", plots: [:]).record(in: plain, inputs: [])
        }
    }
}
