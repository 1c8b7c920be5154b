/// The character classes of Hugging Face tokenizers' `BertNormalizer` and
/// `BertPreTokenizer`, which is what `BertTokenizerFast` runs.
///
/// tokenizers' Unicode tables are older than Swift's, and a character newer
/// than a table is, to tokenizers, in no class at all:
/// - general categories come from the `unicode_categories` crate, Unicode 8.0:
///   a later character is never removed as a control, split off as
///   punctuation or dropped as an accent;
/// - NFD comes from `unicode-normalization-alignments`, Unicode 9.0: a later
///   character neither decomposes nor moves (combining class 0).
/// White space and case come from Rust's standard library, as current as
/// Swift's. Checked against tokenizers 0.23 on every code point.
enum BertCharacters {
    /// Rust's `char::is_whitespace` (the Unicode White_Space property).
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x80 ? (s.value == 0x20 || (0x09...0x0D).contains(s.value)) : s.properties.isWhitespace
    }

    /// What clean-text removes: categories Cc, Cf and Co, except tab, newline
    /// and carriage return, which are white space. (Unassigned code points stay.)
    @inline(__always)
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return (s.value < 0x20 && s != "\t" && s != "\n" && s != "\r") || s.value == 0x7F }
        switch category(s) {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    /// ASCII punctuation and symbols (`is_ascii_punctuation`) or a category P* character.
    @inline(__always)
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) }
        switch category(s) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The accents strip-accents drops after NFD (category Mn).
    @inline(__always)
    static func isNonspacingMark(_ s: Unicode.Scalar) -> Bool {
        s.value >= 0x300 && category(s) == .nonspacingMark
    }

    /// The CJK ideograph blocks tokenizers' `is_chinese_char` spaces out. Its
    /// fifth range starts at 0x2B920, not at 0x2B820 as in Google's Python
    /// BERT; `BertTokenizerFast` follows tokenizers.
    @inline(__always)
    static func isChinese(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    /// Whether tokenizers' NFD tables (Unicode 9.0) know `s`.
    @inline(__always)
    static func knownToNFD(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x80 || assigned(s, byMajorVersion: 9)
    }

    /// The category `unicode_categories` gives `s`: its Unicode 8.0 category,
    /// or unassigned for a later character.
    @inline(__always)
    private static func category(_ s: Unicode.Scalar) -> Unicode.GeneralCategory {
        guard assigned(s, byMajorVersion: 8) else { return .unassigned }
        switch s.value {
        // The few whose category has changed since Unicode 8.0.
        case 0x166D, 0x111C9: return .otherPunctuation
        case 0x1734, 0x1171E: return .nonspacingMark
        case 0x1885, 0x1886: return .otherLetter
        case 0xA9BD: return .spacingMark
        default: return s.properties.generalCategory
        }
    }

    @inline(__always)
    private static func assigned(_ s: Unicode.Scalar, byMajorVersion major: Int) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major < major || (age.major == major && age.minor == 0)
    }
}
