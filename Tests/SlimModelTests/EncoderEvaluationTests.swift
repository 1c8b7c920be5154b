import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Issue 22's evaluation on encoders: slices flagged by the cosine of the embeddings, robustness
/// under perturbed text, the worst texts, the card record; bad slice files reported, never a crash.
@Suite struct EncoderEvaluationTests {
    /// Words only the "markets" slice uses; the damaged copy's embedding rows of them are zeroed.
    static let damagedWords = ["stocks", "fell", "sharply", "monday"]

    static func bert(at url: URL, seed: UInt64, damaged: Bool) throws {
        try TinyBERT.write(at: url, seed: seed) { tensors in
            guard damaged else { return }
            let i = tensors.firstIndex { $0.name == "embeddings.word_embeddings.weight" }!
            for word in damagedWords {
                let row = TinyBERT.words.firstIndex(of: word)!
                tensors[i].values.replaceSubrange(row * TinyBERT.hidden..<(row + 1) * TinyBERT.hidden,
                                                  with: repeatElement(0, count: TinyBERT.hidden))
            }
        }
    }

    /// `count` sentences of 3 to 8 words from `words`, each starting with one of `first`.
    static func sentences(_ count: Int, first: [String], words: [String], using rng: inout SplitMix64) -> [String] {
        (0..<count).map { _ in
            ([first.randomElement(using: &rng)!] + (0..<Int.random(in: 2...7, using: &rng)).map { _ in words.randomElement(using: &rng)! })
                .joined(separator: " ")
        }
    }

    struct Workspace {
        let base: URL, source: URL, damaged: URL, copy: URL, slices: URL
        let main: [String]
    }

    /// Three slices of 12 texts (only "markets" uses the damaged words; it is written in fortune
    /// form, entries between `%` lines), an empty file, a file of control characters only, a binary index.
    static func workspace(_ seed: UInt64) throws -> Workspace {
        let base = try Temporary.folder("encoder-eval")
        let (source, damaged, copy, slices) = (base.appendingPathComponent("source"), base.appendingPathComponent("damaged"),
                                               base.appendingPathComponent("copy"), base.appendingPathComponent("slices"))
        try bert(at: source, seed: seed, damaged: false)
        try bert(at: damaged, seed: seed, damaged: true)
        try bert(at: copy, seed: seed, damaged: false)
        try FileManager.default.createDirectory(at: slices, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed &+ 1)
        let pets = sentences(12, first: ["the", "a"], words: ["cat", "sat", "on", "mat", "dog", "runs", "in", "park", "the"], using: &rng)
        let music = sentences(12, first: ["a", "the"], words: ["man", "is", "playing", "guitar", "in", "park", ","], using: &rng)
        let markets = sentences(12, first: damagedWords, words: damagedWords + ["on", "the", "."], using: &rng)
        try pets.joined(separator: "\n").write(to: slices.appendingPathComponent("pets"), atomically: true, encoding: .utf8)
        try music.joined(separator: "\n").write(to: slices.appendingPathComponent("music"), atomically: true, encoding: .utf8)
        try markets.joined(separator: "\n%\n").write(to: slices.appendingPathComponent("markets"), atomically: true, encoding: .utf8)
        try "".write(to: slices.appendingPathComponent("empty"), atomically: true, encoding: .utf8)
        try "\u{1}\u{2}\n\u{7}\n".write(to: slices.appendingPathComponent("control"), atomically: true, encoding: .utf8)
        try Data([0, 1, 2, 0]).write(to: slices.appendingPathComponent("index.dat"))
        return Workspace(base: base, source: source, damaged: damaged, copy: copy, slices: slices,
                         main: Array(pets.prefix(6)) + Array(markets.prefix(6)))
    }

    static func evaluate(_ w: Workspace, against other: URL) throws -> EncoderEvaluationReport {
        let backend = CPUBackend()
        var e = EncoderEvaluator(original: try SentenceEmbedder.load(folder: w.source, backend: backend),
                                 compressed: try SentenceEmbedder.load(folder: other, backend: backend))
        (e.slices, e.maxPerSlice, e.perturbations, e.seed, e.worstCount) = (.folder(w.slices), 10, Perturbation.allCases, 3, 3)
        return try e.run(texts: w.main)
    }

    /// The damaged copy flags exactly the slice whose texts use the damaged rows, its worst texts
    /// come from it, and the skips say why; the undamaged copy flags nothing and departs nowhere.
    @Test(.seeded) func aDamagedEmbeddingRegionFlagsExactlyItsSlice() throws {
        let w = try Self.workspace(TestSeed.current)
        defer { try? FileManager.default.removeItem(at: w.base) }
        let hurt = try Self.evaluate(w, against: w.damaged)
        let rows = hurt.slices
        #expect(rows.map(\.name) == ["control", "empty", "markets", "music", "pets"], "the binary index is no slice")
        #expect(rows.filter(\.flagged).map(\.name) == ["markets"], "\(rows.map { ($0.name, $0.degradation ?? -1) })")
        for name in ["music", "pets"] {
            #expect(rows.first { $0.name == name }?.degradation == 0, "\(name): texts without the damaged words embed identically")
        }
        let markets = try #require(rows.first { $0.name == "markets" })
        #expect(markets.figures["texts"] == 10 && markets.figures["texts_in_slice"] == 12, "--max-per-slice 10 of 12: \(markets.figures)")
        #expect((markets.figures["min_cosine"] ?? 1) <= (markets.figures["mean_cosine"] ?? 0) && (markets.degradation ?? 0) > 0)
        #expect(rows.first { $0.name == "empty" }?.skipped == "the file has no text")
        #expect(rows.first { $0.name == "control" }?.skipped == "none of its 2 texts has a token to embed")
        #expect(hurt.worst.count == 3)
        for c in hurt.worst {
            #expect(c.cosine < 1 && Self.damagedWords.contains { c.text.contains($0) }, "\(c.text): \(c.cosine)")
            #expect(c.normOriginal > 0 && c.normCompressed > 0 && c.nearestOriginal != nil && c.nearestCompressed != nil)
        }
        #expect(hurt.worst.map(\.cosine) == hurt.worst.map(\.cosine).sorted(), "lowest cosine first")
        #expect(hurt.robustness.map(\.perturbation) == Perturbation.allCases.map(\.rawValue))
        let clean = try #require(hurt.robustness.first?.clean["mean_cosine"])
        #expect(clean < 1, "half the main texts use the damaged words")
        // BERT's uncased tokenizer lower-cases: upper-cased words are the same tokens, so nothing moves.
        let upper = try #require(hurt.robustness.first { $0.perturbation == "case" })
        #expect(upper.perturbed["mean_cosine"] == clean && upper.perturbed["original_clean_cosine"] == 1)
        print("damaged tiny BERT: slices \(rows.map { ($0.name, $0.degradation ?? -1) }); robustness "
              + "\(hurt.robustness.map { ($0.perturbation, $0.perturbed["mean_cosine"] ?? -1, $0.perturbed["original_clean_cosine"] ?? -1) })")

        let same = try Self.evaluate(w, against: w.copy)
        #expect(same.slices.allSatisfy { !$0.flagged && ($0.degradation ?? 0) == 0 }, "an undamaged copy flags nothing")
        #expect(same.main.meanCosine == 1 && same.robustness.allSatisfy { $0.perturbed["mean_cosine"] == 1 })
    }

    /// The card names the flagged slice and the rule, marks its bar, reports the skips and why
    /// calibration is absent; the JSON carries every field.
    @Test(.seeded) func theRecordCarriesSlicesRobustnessAndWorstTexts() throws {
        let w = try Self.workspace(TestSeed.current)
        defer { try? FileManager.default.removeItem(at: w.base) }
        let report = try Self.evaluate(w, against: w.damaged)
        let record = report.record(kind: "data, slices s, robustness")
        #expect(record.markdown.contains("Flagged (1 − mean cosine above 2.0x the one pooled over all slices): markets\n"), "\(record.markdown)")
        #expect(record.markdown.contains("| control | skipped: none of its 2 texts has a token to embed |"))
        #expect(record.markdown.contains("### Robustness") && record.markdown.contains("| typos |") && record.markdown.contains("### Worst texts"))
        #expect(record.markdown.contains("Calibration: does not apply to an encoder"))
        let svg = try #require(record.plots["eval-data-slices-s-robustness-slices.svg"])
        let marketsBar = try #require(svg.components(separatedBy: ">markets</text>").last?.split(separator: "\n").first)
        #expect(marketsBar.contains("#c0392b"), "the flagged slice's bar is red: \(marketsBar)")
        let json = report.json
        for key in ["slices", "robustness", "worst", "calibration", "slice_flag_rule", "mean_cosine"] { #expect(json[key] != nil, "\(key)") }
        #expect((json["calibration"] as? [String: Any])?["applies"] as? Bool == false)
        #expect(JSONSerialization.isValidJSONObject(json))
    }

    /// A folder with no text file is a named error; the main texts alone need no slices.
    @Test func aFolderWithoutTextIsANamedError() throws {
        let base = try Temporary.folder("encoder-eval-empty")
        defer { try? FileManager.default.removeItem(at: base) }
        try TinyBERT.write(at: base.appendingPathComponent("m"), seed: 1)
        let slices = base.appendingPathComponent("slices")
        try FileManager.default.createDirectory(at: slices, withIntermediateDirectories: true)
        try Data([0, 0]).write(to: slices.appendingPathComponent("x.dat"))
        let model = try SentenceEmbedder.load(folder: base.appendingPathComponent("m"), backend: CPUBackend())
        var e = EncoderEvaluator(original: model, compressed: model)
        e.slices = .folder(slices)
        #expect { try e.run(texts: ["the cat sat"]) } throws: {
            ($0 as? SlimError)?.description.contains(slices.path) == true && ($0 as? SlimError)?.description.contains("no text files") == true
        }
        e.slices = .byLength
        let report = try e.run(texts: ["the cat sat", "a man is playing guitar in the park , the dog runs"])
        #expect(report.slices.map(\.name) == ["0-15 tokens"] && report.slices[0].figures["texts"] == 2)
    }
}
