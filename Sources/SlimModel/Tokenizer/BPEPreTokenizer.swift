/// How text is cut into words before byte-level BPE merges run inside each
/// word, named as GGUF files name them (`tokenizer.ggml.pre`). The rules are
/// llama.cpp's, which the reference ids come from: its regexes run in
/// sequence, each cutting the pieces the previous one left.
public enum BPEPreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2's pattern: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM2 and StarCoder: every digit alone (`\p{N}`), then GPT-2's pattern.
    case smollm

    /// The `tokenizer.ggml.pre` names that mean the same rules.
    public init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "default": self = .gpt2  // "default": a GPT-2 vocabulary without a named pre-tokenizer
        case "smollm", "starcoder", "refact": self = .smollm
        default: return nil
        }
    }

    /// The words of `text`, as ranges of its scalars.
    public func words(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        let pieces: [Range<Int>]
        switch self {
        case .gpt2: pieces = [0..<text.count]
        case .smollm: pieces = Self.isolatingNumbers(text)
        }
        var words: [Range<Int>] = []
        for piece in pieces where !piece.isEmpty { Self.gpt2Words(text, piece, into: &words) }
        return words
    }

    /// `\p{N}`: each number character becomes a piece, and so does each run between them.
    static func isolatingNumbers(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = [], start = 0
        for (i, s) in text.enumerated() where ScalarClass(s) == .number {
            if start < i { pieces.append(start..<i) }
            pieces.append(i..<i + 1)
            start = i + 1
        }
        if start < text.count { pieces.append(start..<text.count) }
        return pieces
    }

    /// GPT-2's pattern over one piece, written out as llama.cpp's hand-made
    /// matcher does it (the piece's end counts as "not whitespace, not a letter").
    static func gpt2Words(_ text: [Unicode.Scalar], _ piece: Range<Int>, into words: inout [Range<Int>]) {
        func cls(_ i: Int) -> ScalarClass? { piece.contains(i) ? ScalarClass(text[i]) : nil }
        func scalar(_ i: Int) -> Unicode.Scalar? { piece.contains(i) ? text[i] : nil }
        var start = piece.lowerBound, pos = piece.lowerBound
        func cut(_ end: Int) { words.append(start..<end); start = end; pos = end }
        while pos < piece.upperBound {
            let c = text[pos]
            // 's 't 'm 'd 're 've 'll (lower case only, as in GPT-2)
            if c == "'", let n1 = scalar(pos + 1) {
                if "stmd".unicodeScalars.contains(n1) { cut(pos + 2); continue }
                if let n2 = scalar(pos + 2), ["re", "ve", "ll"].contains(String(String.UnicodeScalarView([n1, n2]))) {
                    cut(pos + 3); continue
                }
            }
            // An ASCII space joins the word that follows it.
            let lead = c == " " ? cls(pos + 1) : cls(pos)
            let skip = c == " " ? 1 : 0
            if let lead, lead != .whitespace {
                var end = pos + skip
                if lead == .other {
                    while let k = cls(end), k == .other { end += 1 }
                } else {
                    while cls(end) == lead { end += 1 }
                }
                cut(end)
                continue
            }
            var spaces = 0
            while cls(pos + spaces) == .whitespace { spaces += 1 }
            if spaces > 1 && pos + spaces < piece.upperBound {
                cut(pos + spaces - 1)  // \s+(?!\S): the last space goes with the next word
            } else if spaces > 0 {
                cut(pos + spaces)
            } else {
                cut(pos + 1)
            }
        }
    }

    enum ScalarClass: Equatable {
        case letter, number, whitespace, other
        init(_ s: Unicode.Scalar) {
            if s.properties.isWhitespace { self = .whitespace; return }
            switch s.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: self = .letter
            case .decimalNumber, .letterNumber, .otherNumber: self = .number
            default: self = .other
            }
        }
    }
}
