import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// Byte-level BPE against llama.cpp's ids for SmolLM2, the pre-tokenizer's
/// rules case by case, and the errors of a tokenizer Slim cannot run.
@Suite struct BPETokenizerTests {
    struct Golden: Decodable { let sentences: [String]; let token_ids: [[Int32]] }

    /// Loaded once; a failure to load is reported as it happened (a missing file or a parser error).
    static let smolLM2 = Result { try BPETokenizer(gguf: GGUFFile(contentsOf: TestAssets.smolLM2)) }
    func tokenizer() throws -> BPETokenizer { try Self.smolLM2.get() }

    @Test func idsEqualLlamaCppForEveryReferenceSentence() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: try TestAssets.smolLM2Golden))
        #expect(golden.sentences.count == 16)
        let bpe = try tokenizer()
        for (text, want) in zip(golden.sentences, golden.token_ids) {
            #expect(bpe.encode(text) == want, "\(text)")
            #expect(bpe.decode(want) == text, "decoding \(want)")
        }
    }

    /// Byte-level BPE loses nothing: any text decodes back to itself, whatever its scripts,
    /// except bytes the vocabulary has no token for (SmolLM2 lacks six C0 controls), which
    /// llama.cpp drops, and so does Slim.
    @Test(.seeded) func anyTextRoundTrips() throws {
        let bpe = try tokenizer()
        let missing: [UInt32] = [4, 6, 19, 20, 22, 29]
        #expect(missing.allSatisfy { !bpe.tokens.contains(String(ByteLevelAlphabet.scalarOfByte[Int($0)])) })
        #expect(bpe.decode(bpe.encode("a\u{4}b\u{1D}c")) == "abc")
        var rng = SplitMix64(seed: TestSeed.current)
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0xA0...0x24F, 0x370...0x3FF, 0x400...0x4FF, 0x4E00...0x4FFF,
                                            0x1F600...0x1F64F, 0x0...0x1F, 0x2000...0x206F]
        for _ in 0..<200 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                let value = UInt32.random(in: pools.randomElement(using: &rng)!, using: &rng)
                if !missing.contains(value), let s = Unicode.Scalar(value) { scalars.append(s) }
            }
            let text = String(scalars)
            let ids = bpe.encode(text, parseSpecial: false)
            #expect(ids.allSatisfy { (0..<Int32(bpe.vocabularySize)).contains($0) })
            #expect(Array(bpe.decode(ids).unicodeScalars) == Array(text.unicodeScalars), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    /// Each rule of llama.cpp's SmolLM2 pre-tokenizer, by hand.
    @Test(arguments: [
        ("Numbers: 3.14", ["Numbers", ":", " ", "3", ".", "1", "4"]),
        ("hello  world", ["hello", " ", " world"]),
        ("it's they're I'M", ["it", "'s", " they", "'re", " I", "'", "M"]),
        ("x\n\n  y", ["x", "\n\n ", " y"]),
        ("end   ", ["end", "   "]),
        ("a+=b", ["a", "+=", "b"]),
        (" ...wow", [" ...", "wow"]),
        ("v2", ["v", "2"]),
        ("Ⅻ٣x", ["Ⅻ", "٣", "x"]),
        ("São\tPaulo", ["São", "\t", "Paulo"]),
    ])
    func smolLMPreTokenizer(_ text: String, _ words: [String]) {
        let scalars = Array(text.unicodeScalars)
        let got = BPEPreTokenizer.smollm.words(scalars).map { String(String.UnicodeScalarView(scalars[$0])) }
        #expect(got == words)
    }

    @Test func gpt2KeepsDigitRunsTogether() {
        let scalars = Array("in 2024 ".unicodeScalars)
        #expect(BPEPreTokenizer.gpt2.words(scalars).map { String(String.UnicodeScalarView(scalars[$0])) } == ["in", " 2024", " "])
    }

    @Test func specialTokensAreCutOutOnlyWhenAsked() throws {
        let bpe = try tokenizer()
        let parsed = bpe.encode("<|im_start|>user\nHi<|im_end|>")
        #expect(parsed.first == 1 && parsed.last == 2 && parsed.count > 3)
        let literal = bpe.encode("<|im_start|>", parseSpecial: false)
        #expect(!literal.contains(1) && bpe.decode(literal) == "<|im_start|>")
        #expect(bpe.decode([1, 504]) == "The", "control tokens print as nothing")
        #expect(bpe.encode("The", addBOS: true) == [1, 504] && bpe.encode("The") == [504], "SmolLM2 adds no BOS")
    }

    @Test func unsupportedOrMalformedTokenizersAreClearErrors() throws {
        func load(_ metadata: [(String, TestGGUF.Value)]) throws -> BPETokenizer {
            try BPETokenizer(gguf: try TestGGUF.parse(TestGGUF.file(metadata: metadata)))
        }
        func strings(_ list: [String]) -> TestGGUF.Value { .array(type: 8, list.map { .string($0) }) }
        let tokens = ("tokenizer.ggml.tokens", strings(["a", "b", "ab"]))
        let merges = ("tokenizer.ggml.merges", strings(["a b"]))
        let gpt2 = ("tokenizer.ggml.model", TestGGUF.Value.string("gpt2"))
        let ok = try load([gpt2, tokens, merges])
        #expect(ok.encode("ab ba") == [2, 1, 0] + [], "merges 'a b' inside a word only; ' ' has no token and drops")
        func expectError(_ metadata: [(String, TestGGUF.Value)], mentioning word: String) {
            do {
                _ = try load(metadata)
                Issue.record("loaded a tokenizer that should fail (\(word))")
            } catch {
                #expect("\(error)".contains(word), "\(error)")
            }
        }
        expectError([], mentioning: "tokenizer.ggml.model")
        expectError([("tokenizer.ggml.model", .string("llama")), tokens, merges], mentioning: "llama")
        expectError([gpt2, ("tokenizer.ggml.pre", .string("qwen2")), tokens, merges], mentioning: "qwen2")
        expectError([gpt2, merges], mentioning: "tokens")
        expectError([gpt2, tokens, ("tokenizer.ggml.merges", strings(["ab"]))], mentioning: "merge 0")
        expectError([gpt2, tokens, merges, ("tokenizer.ggml.token_type", .array(type: 5, [.i32(1)]))], mentioning: "token_type")
        expectError([gpt2, tokens, merges, ("tokenizer.ggml.bos_token_id", .u32(7))], mentioning: "BOS")
    }
}
