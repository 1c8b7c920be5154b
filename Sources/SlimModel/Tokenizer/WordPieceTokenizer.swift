import Foundation
import SlimCore

/// BERT's WordPiece tokenizer, as Hugging Face's `BertTokenizerFast` runs it:
/// basic tokenization, then greedy longest-match-first sub-words (`##` marks
/// a continuation), `[CLS] … [SEP]`, truncation to the model's maximum length.
public struct WordPieceTokenizer: TextTokenizer {
    public let vocabulary: [String: Int32]
    public let tokens: [String]
    public let basic: BasicTokenizer
    public let maxLength: Int
    public let maxWordCharacters: Int
    public let continuationPrefix: String
    public let unknownID: Int32, clsID: Int32, sepID: Int32, padID: Int32

    public init(vocabulary: [String: Int32], basic: BasicTokenizer = BasicTokenizer(), maxLength: Int = 512,
                maxWordCharacters: Int = 100, continuationPrefix: String = "##", unknown: String = "[UNK]",
                origin: String = "vocabulary") throws {
        func id(_ token: String) throws -> Int32 {
            guard let v = vocabulary[token] else { throw SlimError.malformedFile(path: origin, detail: "vocabulary has no \(token) token") }
            return v
        }
        self.vocabulary = vocabulary
        var list = [String](repeating: "", count: (vocabulary.values.max().map(Int.init) ?? -1) + 1)
        for (token, i) in vocabulary where i >= 0 { list[Int(i)] = token }
        tokens = list
        self.basic = basic
        self.maxLength = max(2, maxLength)
        self.maxWordCharacters = maxWordCharacters
        self.continuationPrefix = continuationPrefix
        unknownID = try id(unknown)
        clsID = try id("[CLS]")
        sepID = try id("[SEP]")
        padID = try id("[PAD]")
    }

    /// `[CLS]` + word pieces + `[SEP]`, at most `maxLength` ids.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [clsID]
        for word in basic.words(text) {
            pieces(of: word, into: &ids)
            if ids.count >= maxLength - 1 { break }
        }
        return Array(ids.prefix(maxLength - 1)) + [sepID]
    }

    /// Encodes bytes that must be valid UTF-8.
    public func encode(utf8 bytes: [UInt8]) throws -> [Int32] {
        encode(try TextInput.decodeUTF8(bytes, origin: "text"))
    }

    /// The token strings of `text`, for inspection.
    public func tokenStrings(_ text: String) -> [String] { decode(encode(text)) }

    public func decode(_ ids: [Int32]) -> [String] {
        ids.map { (0..<Int32(tokens.count)).contains($0) ? tokens[Int($0)] : "[?\($0)]" }
    }

    /// Greedy longest-match-first; a word with an unmatchable position is one `[UNK]`.
    private func pieces(of word: String, into ids: inout [Int32]) {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count <= maxWordCharacters else { ids.append(unknownID); return }
        var found: [Int32] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count, match: Int32?
            while end > start {
                var piece = start > 0 ? continuationPrefix : ""
                piece.unicodeScalars.append(contentsOf: scalars[start..<end])
                if let id = vocabulary[piece] { match = id; break }
                end -= 1
            }
            guard let match else { ids.append(unknownID); return }
            found.append(match)
            start = end
        }
        ids.append(contentsOf: found)
    }
}
