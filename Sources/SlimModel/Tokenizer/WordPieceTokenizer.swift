import SlimCore

/// BERT's WordPiece tokenizer, as Hugging Face's `BertTokenizerFast` runs it:
/// added (special) tokens split off, `BertNormalizer`, `BertPreTokenizer`,
/// greedy longest-match-first sub-words ("##" marks a continuation), then
/// `[CLS] … [SEP]` truncated to the model's maximum length.
public struct WordPieceTokenizer: TextTokenizer {
    public let vocabulary: Vocabulary
    public let basic: BasicTokenizer
    /// The most ids `encode` returns, `[CLS]` and `[SEP]` included.
    public let maxLength: Int
    /// A longer word is one `[UNK]` (`max_input_chars_per_word`), counted in Unicode scalars.
    public let maxWordCharacters: Int
    public let unknownID: Int32, clsID: Int32, sepID: Int32, padID: Int32
    public let addedTokens: [AddedToken]
    private let rawSplitter: AddedTokenSplitter, normalizedSplitter: AddedTokenSplitter

    /// Fails with `malformedFile` naming `origin` when the unknown, `[CLS]`,
    /// `[SEP]` or `[PAD]` token is neither an added token nor in the vocabulary.
    public init(vocabulary: Vocabulary, basic: BasicTokenizer = BasicTokenizer(), maxLength: Int = 512,
                maxWordCharacters: Int = 100, addedTokens: [AddedToken] = [],
                unknown: String = "[UNK]", cls: String = "[CLS]", sep: String = "[SEP]", pad: String = "[PAD]",
                origin: String = "vocabulary") throws {
        func id(_ token: String) throws -> Int32 {
            // tokenizers looks a token up among the added tokens first.
            guard let v = addedTokens.first(where: { $0.content == token })?.id ?? vocabulary.id(of: token) else {
                throw SlimError.malformedFile(path: origin, detail: "the vocabulary has no \(token) token")
            }
            return v
        }
        self.vocabulary = vocabulary
        self.basic = basic
        self.maxLength = max(2, maxLength)
        self.maxWordCharacters = maxWordCharacters
        self.addedTokens = addedTokens
        unknownID = try id(unknown)
        clsID = try id(cls)
        sepID = try id(sep)
        padID = try id(pad)
        rawSplitter = AddedTokenSplitter(addedTokens.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), $0) })
        normalizedSplitter = AddedTokenSplitter(addedTokens.filter(\.normalized).map { (basic.normalize($0.content.unicodeScalars), $0) })
    }

    /// `[CLS]` + the text's tokens + `[SEP]`, at most `maxLength` ids: tokens
    /// past the limit are dropped, `[SEP]` stays last.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [clsID]
        ids.reserveCapacity(min(maxLength, text.utf8.count / 3 + 8))
        appendTokens(of: text, to: &ids, limit: maxLength - 1)
        ids.removeSubrange(min(ids.count, maxLength - 1)...)
        ids.append(sepID)
        return ids
    }

    /// `encode` on bytes, which must be valid UTF-8: replacing a bad byte
    /// would silently embed something other than what was written.
    public func encode(utf8 bytes: [UInt8]) throws -> [Int32] {
        do {
            return encode(try TextInput.decodeUTF8(bytes, origin: "text"))
        } catch let SlimError.malformedFile(_, detail) {
            throw SlimError.invalidArgument(detail)
        }
    }

    /// The texts encoded and padded into one batch.
    public func encode(batch texts: [String]) -> TokenizedBatch {
        TokenizedBatch(sequences: texts.map(encode), padID: padID)
    }

    /// The token strings `encode` gives, for inspection.
    public func tokens(_ text: String) -> [String] { decode(ids: encode(text)) }

    /// The token string of each id; "[?id]" for an id outside the vocabulary.
    public func decode(ids: [Int32]) -> [String] {
        ids.map { id in addedTokens.first { $0.id == id }?.content ?? vocabulary.token(of: id) ?? "[?\(id)]" }
    }

    /// The text's token ids, without `[CLS]` and `[SEP]`, appended to `ids`
    /// until it holds `limit`: tokens past the truncation are never needed.
    private func appendTokens(of text: String, to ids: inout [Int32], limit: Int) {
        let scalars = Array(text.unicodeScalars)
        for piece in rawSplitter.split(scalars[...]) {
            guard ids.count < limit else { return }
            switch piece {
            case let .token(id): ids.append(id)
            case let .text(range):
                let normalized = basic.normalize(scalars[range])
                for inner in normalizedSplitter.split(normalized[...]) {
                    guard ids.count < limit else { return }
                    switch inner {
                    case let .token(id): ids.append(id)
                    case let .text(range):
                        basic.forEachWord(in: normalized[range]) { word in
                            appendWordPieces(word, to: &ids)
                            return ids.count < limit
                        }
                    }
                }
            }
        }
    }

    /// Greedy longest-match-first pieces of one word; a word too long, or with
    /// a position no entry matches, is a single `[UNK]`.
    private func appendWordPieces(_ word: ArraySlice<Unicode.Scalar>, to ids: inout [Int32]) {
        guard word.count <= maxWordCharacters else { ids.append(unknownID); return }
        let first = ids.count
        var start = word.startIndex
        while start < word.endIndex {
            guard let match = vocabulary.longestMatch(word[start...], continuation: start > word.startIndex) else {
                ids.removeSubrange(first...)
                ids.append(unknownID)
                return
            }
            ids.append(match.id)
            start += match.length
        }
    }
}
