import Foundation

/// BERT's normaliser and pre-tokeniser, as tokenizers' `BertNormalizer` and
/// `BertPreTokenizer` run them: clean control characters and white space,
/// space out CJK ideographs, strip accents, lower-case, then split on white
/// space and punctuation.
///
/// Text is handled as Unicode scalars throughout, as tokenizers handles
/// `char`s: Swift's grapheme clusters would glue an accent to its letter.
public struct BasicTokenizer: Sendable, Equatable {
    public var cleanText: Bool
    public var splitCJK: Bool
    public var stripAccents: Bool
    public var lowercase: Bool

    /// `stripAccents` nil follows `lowercase`, as tokenizers reads `strip_accents: null`.
    public init(cleanText: Bool = true, splitCJK: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.splitCJK = splitCJK
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    /// The words of `text`, normalised, each punctuation character a word of its own.
    public func words(_ text: String) -> [String] {
        let normalized = normalize(text.unicodeScalars)
        var words: [String] = []
        forEachWord(in: normalized[...]) { words.append(String(String.UnicodeScalarView($0))); return true }
        return words
    }

    /// The normalised scalars of `text`, in `BertNormalizer`'s order: clean,
    /// CJK, accents, case.
    func normalize(_ text: some Sequence<Unicode.Scalar>) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.underestimatedCount)
        // Below U+00C0 nothing decomposes and nothing is a mark, so ASCII text skips NFD.
        var mayDecompose = false
        for s in text {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || BertCharacters.isControl(s) { continue }
                if BertCharacters.isWhitespace(s) { out.append(" "); continue }
            }
            mayDecompose = mayDecompose || s.value >= 0xC0
            if splitCJK && BertCharacters.isChinese(s) {
                out.append(" "); out.append(s); out.append(" ")
            } else {
                out.append(s)
            }
        }
        if stripAccents && mayDecompose {
            out = Self.decomposed(out).filter { !BertCharacters.isNonspacingMark($0) }
        }
        if lowercase { out = Self.lowercased(out) }
        return out
    }

    /// Calls `body` with each word of normalised text until it returns false.
    func forEachWord(in text: ArraySlice<Unicode.Scalar>, _ body: (ArraySlice<Unicode.Scalar>) -> Bool) {
        var start = text.startIndex
        for i in text.indices {
            let s = text[i]
            if BertCharacters.isWhitespace(s) {
                if start < i, !body(text[start..<i]) { return }
                start = i + 1
            } else if BertCharacters.isPunctuation(s) {
                if start < i, !body(text[start..<i]) { return }
                if !body(text[i...i]) { return }
                start = i + 1
            }
        }
        if start < text.endIndex { _ = body(text[start...]) }
    }

    /// NFD by Foundation, except that a character newer than tokenizers' NFD
    /// tables stays as it is and ends the run of text decomposed (and
    /// reordered) before it.
    private static func decomposed(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count + text.count / 4)
        var runStart = 0
        func flushRun(upTo end: Int) {
            let run = text[runStart..<end]
            if run.contains(where: { $0.value >= 0xC0 }) {
                out.append(contentsOf: String(String.UnicodeScalarView(run)).decomposedStringWithCanonicalMapping.unicodeScalars)
            } else {
                out.append(contentsOf: run)
            }
        }
        for (i, s) in text.enumerated() where !BertCharacters.knownToNFD(s) {
            flushRun(upTo: i)
            out.append(s)
            runStart = i + 1
        }
        flushRun(upTo: text.count)
        return out
    }

    /// Scalar by scalar, as Rust's `char::to_lowercase`: no final-sigma rule,
    /// and U+0130 becomes two scalars.
    private static func lowercased(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for s in text {
            if s.value < 0x80 {
                out.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(UInt8(s.value + 0x20)) : s)
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }
}
