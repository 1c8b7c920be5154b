import Foundation
import SlimCore
@testable import SlimModel
import Testing

/// The WordPiece tokenizer's rules on hand-made cases, with ids from the real
/// all-MiniLM-L6-v2 vocabulary (the golden sentences are in MiniLMGoldenTests).
@Suite struct WordPieceBehaviourTests {
    static let tokenizer: WordPieceTokenizer? = try? WordPieceTokenizer(modelFolder: ModelAssets.miniLM)

    func tokenizer() throws -> WordPieceTokenizer { try #require(Self.tokenizer, "run scripts/setup.sh for the MiniLM model") }

    @Test func normalisationAndSplitting() throws {
        let t = try tokenizer()
        #expect(t.encode("Hello, WORLD!") == [101, 7592, 1010, 2088, 999, 102], "lower-cased, punctuation split off")
        #expect(t.encode("中国人") == [101, 1746, 1799, 1756, 102], "CJK ideographs are words of their own")
        #expect(t.encode("hello\u{0}\u{7}\u{200B}world") == t.encode("helloworld"), "NUL, BEL and format characters vanish")
        #expect(t.encode("hello\tworld\n") == t.encode("hello world"), "tabs and newlines are spaces")
        #expect(t.encode("Café naïve") == t.encode("cafe naive"), "accents are stripped (NFD, marks dropped)")
        #expect(t.encode("") == [101, 102])
    }

    @Test func wordPiecesAndUnknowns() throws {
        let t = try tokenizer()
        #expect(t.encode("😀") == [101, 100, 102], "a character the vocabulary lacks is [UNK]")
        #expect(t.encode(String(repeating: "a", count: 101)) == [101, 100, 102], "a word over 100 characters is one [UNK]")
        let pieces = t.tokenStrings("tokenization")
        #expect(pieces.dropFirst().dropLast().dropFirst().allSatisfy { $0.hasPrefix("##") }, "continuations carry ##: \(pieces)")
        #expect(t.decode(t.encode("tokenization")).joined(separator: " ").replacingOccurrences(of: " ##", with: "")
                == "[CLS] tokenization [SEP]")
    }

    @Test func truncationAndBatches() throws {
        let t = try tokenizer()
        let long = t.encode(Array(repeating: "word", count: 1000).joined(separator: " "))
        #expect(long.count == 256 && long.first == 101 && long.last == 102, "truncated to the model's 256 tokens")
        let texts = ["A man is playing a guitar.", "Hello, world.", "Short."]
        let batch = EncoderBatch(sequences: texts.map(t.encode), padID: t.padID)
        #expect(batch.sequence == 9 && batch.lengths == [9, 6, 4])
        #expect(Array(batch.ids[9..<18]) == t.encode("Hello, world.") + [0, 0, 0], "shorter sequences are padded with [PAD]")
    }

    @Test func vocabTxtAndTokenizerJSONAgree() throws {
        let t = try tokenizer()
        let fromText = try WordPieceTokenizer(vocabularyFile: ModelAssets.miniLM.appendingPathComponent("vocab.txt"), maxLength: 256)
        for text in ["It's raining cats and dogs in São Paulo!", "Numbers: 3.14159, 2,718 and 1e-5.", "中国 naïve — test@example.com"] {
            #expect(fromText.encode(text) == t.encode(text), "\(text)")
        }
    }

    @Test func invalidUTF8IsAnErrorNamingTheOffset() throws {
        let t = try tokenizer()
        #expect(try t.encode(utf8: Array("héllo".utf8)) == t.encode("héllo"))
        do {
            _ = try t.encode(utf8: [0x68, 0x69, 0xC3, 0x28])
            Issue.record("invalid UTF-8 was accepted")
        } catch let e as SlimError {
            #expect(e.description.contains("UTF-8") && e.description.contains("offset 2"), "\(e)")
        }
    }

    @Test func vocabularyWithoutSpecialTokensIsRejected() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("slim-vocab-\(UUID().uuidString).txt")
        try "hello\nworld\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: SlimError.self) { try WordPieceTokenizer(vocabularyFile: url) }
    }
}
