import Foundation
import SlimCore

/// Changes to evaluation text that a model meets in the wild (issue 22's
/// robustness suite). Each is deterministic for a seed and touches about
/// `rate` of the words (or, for truncation, every line), as documented per case.
public enum Perturbation: String, CaseIterable, Sendable {
    /// Two adjacent inner letters swapped in a word of four or more letters ("wrod").
    case typos
    /// A word written in upper case.
    case caseChange = "case"
    /// A space after a word doubled, a tab instead of a space after another.
    case whitespace
    /// Latin letters replaced by Cyrillic look-alikes (a e o p c x i → а е о р с х і).
    case homoglyphs
    /// Vowels and n given accents (a e i o u n → à é î ö ü ñ).
    case accents
    /// Every line cut to its first half of words (at least one kept).
    case truncation

    public static let defaultRate = 0.1

    /// `text` perturbed, reproducibly for `seed`.
    public func apply(_ text: String, seed: UInt64, rate: Double = Perturbation.defaultRate) -> String {
        var rng = SeededGenerator(seed: seed)
        if self == .truncation {
            return text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                let words = line.split(separator: " ", omittingEmptySubsequences: true)
                return words.prefix(max(1, words.count / 2)).joined(separator: " ")
            }.joined(separator: "\n")
        }
        // Words are the runs between single spaces; line breaks stay inside them untouched.
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        var out = ""
        for (i, word) in words.enumerated() {
            let chosen = Double(rng.next() >> 11) / Double(1 << 53) < rate
            var w = word, separator = i + 1 < words.count ? " " : ""
            if chosen {
                switch self {
                case .typos: w = Self.swapInnerLetters(word, &rng)
                case .caseChange: w = word.uppercased()
                case .whitespace: separator = separator.isEmpty ? "" : (rng.next() % 2 == 0 ? "  " : "\t")
                case .homoglyphs: w = String(word.map { Self.homoglyph[$0] ?? $0 })
                case .accents: w = String(word.map { Self.accent[$0] ?? $0 })
                case .truncation: break
                }
            }
            out += w + separator
        }
        return out
    }

    static let homoglyph: [Character: Character] = ["a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"]
    static let accent: [Character: Character] = ["a": "à", "e": "é", "i": "î", "o": "ö", "u": "ü", "n": "ñ"]

    private static func swapInnerLetters(_ word: String, _ rng: inout SeededGenerator) -> String {
        var letters = Array(word)
        let inner = letters.indices.dropFirst().dropLast().filter { letters[$0].isLetter && letters[$0 + 1].isLetter && $0 + 1 < letters.count - 1 }
        guard letters.count >= 4, !inner.isEmpty else { return word }
        let at = inner[Int(rng.next() % UInt64(inner.count))]
        letters.swapAt(at, at + 1)
        return String(letters)
    }
}
