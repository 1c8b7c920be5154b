import Foundation
import SlimCore
@testable import SlimModel
import Testing
import TestSupport

/// The WordPiece tokenizer against Hugging Face's `BertTokenizerFast` for
/// all-MiniLM-L6-v2. Every expected id came from transformers and tokenizers
/// (see WordPieceFixtures.swift); the hand-made cases also say which rule
/// they check. Equality is exact: one id off changes the embedding.
@Suite struct WordPieceTests {
    static let loaded = Result { try WordPieceTokenizer(modelFolder: try TestAssets.miniLM) }

    func tokenizer() throws -> WordPieceTokenizer { try Self.loaded.get() }

    // MARK: - Against the reference

    @Test func goldenSentencesMatchSentenceTransformers() throws {
        struct Golden: Decodable { let sentences: [String], input_ids: [[Int32]] }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: try TestAssets.miniLMGolden))
        let t = try tokenizer()
        #expect(golden.sentences.count == golden.input_ids.count && !golden.sentences.isEmpty)
        for (text, ids) in zip(golden.sentences, golden.input_ids) {
            #expect(t.encode(text) == ids, "\(text): \(t.tokens(text))")
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let text: String, tokens: [String], rule: String
        var testDescription: String { rule }
    }

    static let cases: [Case] = [
        Case(text: "Hello, WORLD!", tokens: ["hello", ",", "world", "!"], rule: "lower-cased, punctuation split off"),
        Case(text: "我爱北京天安门", tokens: ["我", "[UNK]", "北", "京", "天", "安", "[UNK]"],
             rule: "each CJK ideograph a word of its own; 爱 and 门 are not in the vocabulary"),
        Case(text: "hello\u{0}\u{7}\u{200B}\u{FEFF}world\u{FFFD}!", tokens: ["hello", "##world", "!"],
             rule: "NUL, BEL, format characters and U+FFFD removed, joining the words"),
        Case(text: String(repeating: "a", count: 100), tokens: ["aaa"] + Array(repeating: "##aa", count: 48) + ["##a"],
             rule: "100 characters is still a word"),
        Case(text: String(repeating: "a", count: 101), tokens: ["[UNK]"], rule: "a word over 100 characters is one [UNK]"),
        Case(text: "hello 😀 world", tokens: ["hello", "[UNK]", "world"], rule: "a character missing from the vocabulary is [UNK]"),
        Case(text: "abc😀def", tokens: ["[UNK]"], rule: "an unmatchable position makes the whole word [UNK]"),
        Case(text: "⌘ key", tokens: ["[UNK]", "key"], rule: "a rare symbol is [UNK]"),
        Case(text: "don't stop—now!?", tokens: ["don", "'", "t", "stop", "—", "now", "!", "?"],
             rule: "ASCII and Unicode (Pd) punctuation are words of their own"),
        Case(text: "e-mail: test@example.com (1,234.56)",
             tokens: ["e", "-", "mail", ":", "test", "@", "example", ".", "com", "(", "1", ",", "234", ".", "56", ")"],
             rule: "e-mail addresses and numbers split at punctuation"),
        Case(text: "hello\tworld\nfoo\r\nbar", tokens: ["hello", "world", "foo", "bar"], rule: "tab, newline and CR are spaces"),
        Case(text: "  \t\n ", tokens: [], rule: "white space alone has no tokens"),
        Case(text: "", tokens: [], rule: "the empty text is [CLS] [SEP]"),
        Case(text: "Café naïve résumé coöperate", tokens: ["cafe", "naive", "resume", "cooperate"],
             rule: "accents stripped: NFD, then marks dropped"),
        Case(text: "ÅNGSTRÖM İstanbul", tokens: ["ang", "##strom", "istanbul"], rule: "İ loses its dot above with the accents"),
        Case(text: "ΟΔΟΣ", tokens: ["ο", "##δ", "##ο", "##σ"], rule: "lower-cased scalar by scalar: no final sigma"),
        Case(text: "\u{F900}\u{212B}", tokens: ["[UNK]", "a"], rule: "NFD maps compatibility ideographs and the Ångström sign"),
        Case(text: "\u{2B820}\u{2B920}", tokens: ["[UNK]", "[UNK]"],
             rule: "tokenizers' CJK ranges skip U+2B820–U+2B91F, so these two are one word"),
        Case(text: "a\u{2E43}b x\u{0378}y", tokens: ["[UNK]", "[UNK]"],
             rule: "a Unicode 9 dash and an unassigned code point are letters to tokenizers' Unicode 8 tables"),
        Case(text: "ＡＢＣ１２３", tokens: ["[UNK]"], rule: "full-width forms are not folded (NFD, not NFKD)"),
        Case(text: "hello [MASK] world[SEP]x [mask]", tokens: ["hello", "[MASK]", "world", "[SEP]", "x", "[", "mask", "]"],
             rule: "special tokens in the text are matched as written, case and all"),
        Case(text: "tokenization unaffable", tokens: ["token", "##ization", "una", "##ffa", "##ble"],
             rule: "greedy longest match first, continuations marked ##"),
    ]

    @Test(arguments: cases)
    func handMadeCase(_ c: Case) throws {
        let t = try tokenizer()
        #expect(t.tokens(c.text) == ["[CLS]"] + c.tokens + ["[SEP]"], "\(c.text.debugDescription)")
    }

    @Test func handMadeIDs() throws {
        // The ids of a few cases, to tie the token strings to the vocabulary.
        let t = try tokenizer()
        #expect(t.encode("Hello, WORLD!") == [101, 7592, 1010, 2088, 999, 102])
        #expect(t.encode("我爱北京天安门") == [101, 1855, 100, 1781, 1755, 1811, 1820, 100, 102])
        #expect(t.encode("hello [MASK] world[SEP]x [mask]") == [101, 7592, 103, 2088, 102, 1060, 1031, 7308, 1033, 102])
        #expect(t.encode("") == [101, 102])
    }

    @Test func multilingualSentences() throws {
        let t = try tokenizer()
        for (text, ids) in WordPieceFixtures.multilingual {
            #expect(t.encode(text) == ids, "\(text.debugDescription): \(t.tokens(text))")
        }
    }

    @Test func randomTextsMatchTokenizers() throws {
        let t = try tokenizer()
        let texts = WordPieceCrossCheck.randomTexts(count: 2000)
        for (chunk, expected) in zip(stride(from: 0, to: texts.count, by: 100), WordPieceFixtures.randomTextHashes) {
            let got = WordPieceCrossCheck.hash(texts[chunk..<chunk + 100].map(t.encode))
            #expect(got == expected, "random texts \(chunk)..<\(chunk + 100) differ from \(WordPieceFixtures.reference)")
        }
    }

    @Test func leeCorpusMatchesTokenizers() throws {
        let file = try WordPieceCrossCheck.data("lee/lee.cor")
        // gensim ships lee.cor in Latin-1.
        let text = try #require(String(data: try Data(contentsOf: file), encoding: .isoLatin1))
        let documents = text.split(separator: "\n").map(String.init)
        #expect(documents.count == WordPieceFixtures.leeHashes.count)
        let t = try tokenizer()
        var matched = 0
        for (i, (document, expected)) in zip(documents, WordPieceFixtures.leeHashes).enumerated() {
            let ok = WordPieceCrossCheck.hash([t.encode(document)]) == expected
            matched += ok ? 1 : 0
            #expect(ok, "Lee document \(i) differs: \(t.tokens(document))")
        }
        print("Lee corpus: \(matched) of \(documents.count) documents identical to \(WordPieceFixtures.reference)")
    }

    @Test func fortunesMatchTokenizers() throws {
        let folder = try WordPieceCrossCheck.data("fortunes")
        let t = try tokenizer()
        var total = 0
        for (file, count, expected) in WordPieceFixtures.fortuneHashes {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(file)))
            // Split the bytes, as the generator does, so a CR before "%" stays with its fortune.
            let fortunes = try WordPieceCrossCheck.split(bytes, at: Array("\n%\n".utf8)).map { try t.encode(utf8: $0) }
            #expect(fortunes.count == count, "\(file)")
            #expect(WordPieceCrossCheck.hash(fortunes) == expected, "the fortunes of \(file) differ")
            total += fortunes.count
        }
        print("fortunes: \(total) texts in \(WordPieceFixtures.fortuneHashes.count) files checked")
    }

    @Test func everyCodePointNormalisesAsTokenizers() throws {
        let basic = try tokenizer().basic
        var differing: [String] = []
        for (block, expected) in WordPieceFixtures.codePointBlockHashes.enumerated()
        where WordPieceCrossCheck.codePointBlockHash(block, basic) != expected {
            differing.append(String(block * 0x1000, radix: 16))
        }
        #expect(differing.isEmpty, "code points from U+\(differing.joined(separator: ", U+")) (blocks of 4096) differ")
    }

    // MARK: - Encoding

    @Test func truncatesToTheModelsMaximum() throws {
        let t = try tokenizer()
        #expect(t.maxLength == 256, "sentence_bert_config.json's max_seq_length")
        let long = t.encode(Array(repeating: "word", count: 1000).joined(separator: " "))
        #expect(long.count == 256 && long.first == 101 && long.last == 102)
        #expect(long.dropFirst().dropLast().allSatisfy { $0 == 2773 }, "254 words kept, the rest dropped before [SEP]")
        // 254 tokens fit exactly; a 255th is dropped.
        #expect(t.encode(Array(repeating: "word", count: 254).joined(separator: " ")) == long)
        #expect(t.encode(Array(repeating: "word", count: 253).joined(separator: " ")).count == 255)
        let pieces = t.encode("a " + String(repeating: "tokenization ", count: 200))
        #expect(pieces.count == 256 && pieces[254] == 19204 && pieces[255] == 102, "token kept, its ##ization cut")
    }

    @Test func batchesArePaddedAndMasked() throws {
        let t = try tokenizer()
        let texts = ["A man is playing a guitar.", "Hello, world.", "Short."]
        let batch = t.encode(batch: texts)
        // BertTokenizerFast(texts, padding=True):
        #expect(batch.ids == [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102,
                              101, 7592, 1010, 2088, 1012, 102, 0, 0, 0,
                              101, 2460, 1012, 102, 0, 0, 0, 0, 0])
        #expect(batch.attentionMask == [1, 1, 1, 1, 1, 1, 1, 1, 1,
                                        1, 1, 1, 1, 1, 1, 0, 0, 0,
                                        1, 1, 1, 1, 0, 0, 0, 0, 0])
        #expect(batch.tokenTypeIds == Array(repeating: 0, count: 27))
        #expect(batch.lengths == [9, 6, 4] && batch.sequenceLength == 9 && batch.batchSize == 3)
        #expect(Array(batch.row(1)) == t.encode(texts[1]) + [0, 0, 0])
        #expect(t.encode(batch: []).ids.isEmpty)
    }

    @Test func decodesIDsToTokens() throws {
        let t = try tokenizer()
        #expect(t.decode(ids: [101, 19204, 3989, 102, 103, 0]) == ["[CLS]", "token", "##ization", "[SEP]", "[MASK]", "[PAD]"])
        #expect(t.decode(ids: [-1, 30522]) == ["[?-1]", "[?30522]"])
        #expect(t.basic.words("Don't—stop") == ["don", "'", "t", "—", "stop"])
    }

    @Test func invalidUTF8IsRejectedAtItsOffset() throws {
        let t = try tokenizer()
        #expect(try t.encode(utf8: Array("Café ☕".utf8)) == t.encode("Café ☕"))
        for (bytes, offset) in [([0x68, 0x69, 0xC3, 0x28], 2), ([0xFF], 0), ([0x61, 0xE2, 0x82], 1), ([0x61, 0xED, 0xA0, 0x80], 1)] as [([UInt8], Int)] {
            #expect {
                _ = try t.encode(utf8: bytes)
            } throws: { error in
                guard case let .invalidArgument(detail) = error as? SlimError else { return false }
                return detail.contains("UTF-8") && detail.contains("offset \(offset)")
            }
        }
    }

    // MARK: - Loading

    @Test(.seeded) func bothLoadersGiveTheSameIDs() throws {
        let t = try tokenizer()
        let fromText = try WordPieceTokenizer(vocabularyFile: try TestAssets.miniLM.appendingPathComponent("vocab.txt"), maxLength: 256)
        let texts = WordPieceFixtures.multilingual.map(\.text) + WordPieceCrossCheck.randomTexts(count: 300, seed: TestSeed.current)
            + Self.cases.map(\.text)
        for text in texts {
            #expect(fromText.encode(text) == t.encode(text), "\(text.debugDescription)")
        }
        // Scalar for scalar: String's == would hide a canonically equivalent spelling.
        #expect(fromText.vocabulary.tokens.map { Array($0.unicodeScalars) } == t.vocabulary.tokens.map { Array($0.unicodeScalars) })
    }

    @Test func folderWithOnlyVocabTxtLoads() throws {
        let folder = try Temporary.folder("wordpiece")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try TestAssets.miniLM
        for name in ["vocab.txt", "sentence_bert_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let t = try WordPieceTokenizer(modelFolder: folder)
        #expect(t.maxLength == 256 && t.encode("Hello, WORLD! [MASK]") == [101, 7592, 1010, 2088, 999, 103, 102])
    }

    @Test func tokenizerConfigOverridesTheNormalizer() throws {
        // BertTokenizerFast replaces tokenizer.json's lowercase with tokenizer_config's do_lower_case.
        let folder = try Temporary.folder("wordpiece")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: try TestAssets.miniLM.appendingPathComponent("tokenizer.json"),
                                         to: folder.appendingPathComponent("tokenizer.json"))
        try #"{"tokenizer_class": "BertTokenizer", "do_lower_case": false, "model_max_length": 1000000000000000019884624838656}"#
            .write(to: folder.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let cased = try WordPieceTokenizer(modelFolder: folder)
        #expect(!cased.basic.lowercase && !cased.basic.stripAccents && cased.maxLength == 512)
        #expect(cased.tokens("Hello é") == ["[CLS]", "[UNK]", "[UNK]", "[SEP]"], "an uncased vocabulary has neither 'H' nor 'é'")
    }

    @Test func loadingErrorsNameTheFile() throws {
        let folder = try Temporary.folder("wordpiece")
        defer { try? FileManager.default.removeItem(at: folder) }
        func error(_ body: () throws -> WordPieceTokenizer) -> SlimError? {
            do { _ = try body(); return nil } catch { return error as? SlimError }
        }
        guard case let .io(path, _) = error({ try WordPieceTokenizer(modelFolder: folder) }) else {
            Issue.record("an empty folder must be an io error"); return
        }
        #expect(path == folder.path)

        let json = folder.appendingPathComponent("tokenizer.json")
        try "{\"model\": ".write(to: json, atomically: true, encoding: .utf8)
        #expect(error { try WordPieceTokenizer(modelFolder: folder) }
                == .malformedFile(path: json.path, detail: "not valid JSON: unexpected end of file during JSON parse"))
        try FileManager.default.removeItem(at: json)

        let vocab = folder.appendingPathComponent("vocab.txt")
        try "[PAD]\n[UNK]\n[SEP]\nhello\n".write(to: vocab, atomically: true, encoding: .utf8)
        #expect(error { try WordPieceTokenizer(modelFolder: folder) }
                == .malformedFile(path: vocab.path, detail: "the vocabulary has no [CLS] token"))
        try Data([0x5B, 0x50, 0x41, 0x44, 0x5D, 0x0A, 0xFF]).write(to: vocab)
        guard case let .malformedFile(path, detail) = error({ try WordPieceTokenizer(vocabularyFile: vocab) }) else {
            Issue.record("a vocabulary that is not UTF-8 must be malformed"); return
        }
        #expect(path == vocab.path && detail.contains("offset 6"))
    }

    @Test func unsupportedTokenizerJSONIsRefused() throws {
        let folder = try Temporary.folder("wordpiece")
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = folder.appendingPathComponent("tokenizer.json")
        try #"{"model": {"type": "BPE", "vocab": {}}, "pre_tokenizer": {"type": "ByteLevel"}}"#
            .write(to: json, atomically: true, encoding: .utf8)
        #expect(throws: SlimError.self) { try WordPieceTokenizer(modelFolder: folder) }
        try #"{"model": {"type": "WordPiece", "vocab": {"[UNK]": -3}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#
            .write(to: json, atomically: true, encoding: .utf8)
        #expect(throws: SlimError.malformedFile(path: json.path, detail: "vocab entry '[UNK]' has no id in 0..<2^24")) {
            try WordPieceTokenizer(modelFolder: folder)
        }
    }

    // MARK: - Added tokens

    @Test func addedTokenOptionsFollowTokenizers() throws {
        // Expected splits worked out from tokenizers' AddedVocabulary rules (and checked with it).
        let vocabulary = Vocabulary(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "hello", "world", "x", "<", ">", "##x"]
            .enumerated().map { (token: $0.element, id: Int32($0.offset)) })
        let added = [
            AddedToken(content: "<l>", id: 20, lstrip: true),
            AddedToken(content: "<r>", id: 21, rstrip: true),
            AddedToken(content: "<w>", id: 22, singleWord: true),
            AddedToken(content: "<N>", id: 23, normalized: true),
        ]
        let t = try WordPieceTokenizer(vocabulary: vocabulary, addedTokens: added)
        #expect(t.encode("hello  <l>world") == [1, 4, 20, 5, 2])
        #expect(t.encode("hello<r>  world") == [1, 4, 21, 5, 2])
        #expect(t.encode("hello <w> world") == [1, 4, 22, 5, 2], "a single word")
        #expect(t.encode("hello<w>world") == [1, 4, 7, 0, 8, 5, 2], "inside a word it is plain text")
        #expect(t.encode("hello <n> <N>") == [1, 4, 23, 23, 2], "a normalised token matches the lower-cased text")
    }
}

/// Shared pieces of the cross-checks, written to do exactly what the Python
/// generator of WordPieceFixtures.swift does.
enum WordPieceCrossCheck {
    /// A 64-bit FNV-style hash over ids, each sequence closed by 0xFFFFFFFF.
    static func hash(_ sequences: some Sequence<[Int32]>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for ids in sequences {
            for id in ids { h = mix(h, UInt64(UInt32(bitPattern: id))) }
            h = mix(h, 0xFFFF_FFFF)
        }
        return h
    }

    static func mix(_ h: UInt64, _ x: UInt64) -> UInt64 { (h ^ x) &* 0x100_0000_01B3 }

    /// `count` texts of 1 to 24 ingredients picked by splitmix64 from `seed`; the fixture's
    /// hashes are of seed 2024's texts (the generator in WordPieceFixtures.swift draws the same).
    static func randomTexts(count: Int, seed: UInt64 = 2024) -> [String] {
        var rng = SplitMix64(seed: seed)
        func next() -> UInt64 { rng.next() }
        let ingredients = WordPieceFixtures.ingredients
        return (0..<count).map { _ in
            var text = String.UnicodeScalarView()
            for _ in 0..<(1 + next() % 24) {
                switch ingredients[Int(next() % UInt64(ingredients.count))] {
                case let .text(s): text.append(contentsOf: s.unicodeScalars)
                case let .scalars(low, high):
                    // The ranges hold no surrogates, so every value is a scalar.
                    if let s = Unicode.Scalar(low + UInt32(next() % UInt64(high - low + 1))) { text.append(s) }
                }
            }
            return String(text)
        }
    }

    /// The words of "a" + c + "b" for every code point c in block `block` of 4096, hashed.
    static func codePointBlockHash(_ block: Int, _ basic: BasicTokenizer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for value in UInt32(block * 0x1000)..<UInt32((block + 1) * 0x1000) {
            guard let c = Unicode.Scalar(value) else { continue }
            basic.forEachWord(in: basic.normalize(["a", c, "b"])[...]) { word in
                for s in word { h = mix(h, UInt64(s.value)) }
                h = mix(h, 0x110000)
                return true
            }
            h = mix(h, 0x110001)
        }
        return h
    }

    /// `bytes` split at each occurrence of `separator`, like Python's `bytes.split`.
    static func split(_ bytes: [UInt8], at separator: [UInt8]) -> [[UInt8]] {
        var pieces: [[UInt8]] = [], start = 0, i = 0
        while i + separator.count <= bytes.count {
            if bytes[i..<i + separator.count].elementsEqual(separator) {
                pieces.append(Array(bytes[start..<i]))
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        pieces.append(Array(bytes[start...]))
        return pieces
    }

    /// A file or folder under the cache's data folder, which scripts/setup.sh fills.
    static func data(_ path: String) throws -> URL {
        try TestAssets.require(CacheDirectory.root.appendingPathComponent("data/\(path)"), path)
    }
}
