/// A token found in the text as it is, before WordPiece sees it: tokenizers'
/// `AddedToken`. BERT's special tokens are such tokens, so "[MASK]" or "[SEP]"
/// typed in a text is the special token, not "[", "mask", "]".
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int32
    /// Matches only where no word character touches it on either side.
    public var singleWord = false
    /// Takes the white space on its left (`lstrip`) or right (`rstrip`) with it.
    public var lstrip = false, rstrip = false
    /// Matches in the normalised text instead of the raw text.
    public var normalized = false

    public init(content: String, id: Int32, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false) {
        self.content = content
        self.id = id
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }
}

/// Splits text on added tokens the way tokenizers' `AddedVocabulary` does:
/// leftmost-longest, non-overlapping matches; a `singleWord` match inside a
/// word is passed over, and its text stays with the text around it.
struct AddedTokenSplitter: Sendable {
    enum Piece: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    private let patterns: [(scalars: [Unicode.Scalar], token: AddedToken)]
    private let firstScalars: Set<Unicode.Scalar>

    /// `patterns` are the tokens' contents as they appear in the text to split
    /// (normalised already for normalised tokens).
    init(_ patterns: [(scalars: [Unicode.Scalar], token: AddedToken)]) {
        self.patterns = patterns.filter { !$0.scalars.isEmpty }
        firstScalars = Set(self.patterns.compactMap(\.scalars.first))
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// `text` as pieces of plain text and added tokens, in order, covering all of it.
    func split(_ text: ArraySlice<Unicode.Scalar>) -> [Piece] {
        var pieces: [Piece] = []
        var done = text.startIndex  // the text before it is in `pieces`
        var i = text.startIndex
        while i < text.endIndex {
            guard firstScalars.contains(text[i]), let (length, token) = longestMatch(in: text, at: i) else {
                i += 1
                continue
            }
            var start = i, end = i + length
            i = end
            if token.singleWord && (touchesWord(text, before: start) || touchesWord(text, after: end)) { continue }
            if token.lstrip {
                while start > done, BertCharacters.isWhitespace(text[start - 1]) { start -= 1 }
            }
            if token.rstrip {
                while end < text.endIndex, BertCharacters.isWhitespace(text[end]) { end += 1 }
                i = end
            }
            if done < start { pieces.append(.text(done..<start)) }
            pieces.append(.token(token.id))
            done = end
        }
        if done < text.endIndex { pieces.append(.text(done..<text.endIndex)) }
        return pieces
    }

    private func longestMatch(in text: ArraySlice<Unicode.Scalar>, at i: Int) -> (Int, AddedToken)? {
        var best: (Int, AddedToken)?
        for (scalars, token) in patterns where scalars.count > (best?.0 ?? 0) && text[i...].starts(with: scalars) {
            best = (scalars.count, token)
        }
        return best
    }

    /// Whether a regex `\w` character is just before `i` or at `i`.
    private func touchesWord(_ text: ArraySlice<Unicode.Scalar>, before i: Int) -> Bool {
        i > text.startIndex && Self.isWordCharacter(text[i - 1])
    }

    private func touchesWord(_ text: ArraySlice<Unicode.Scalar>, after i: Int) -> Bool {
        i < text.endIndex && Self.isWordCharacter(text[i])
    }

    /// Rust regex's Unicode `\w`: alphabetic, marks, decimal digits, connector punctuation, joiners.
    private static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
