import SlimCore

/// Byte-level BPE (GPT-2 family, SmolLM2, Llama 3): text is cut into words by
/// a ``BPEPreTokenizer``, each word's UTF-8 bytes become characters of the
/// ``ByteLevelAlphabet``, and adjacent symbols merge by rank, the lowest rank
/// (then the leftmost pair) first, until no known merge is left. Special tokens
/// are cut out of the text first. The ids match llama.cpp's for the same file.
public struct BPETokenizer: Sendable {
    public enum TokenKind: Int, Sendable { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    public let tokens: [String]
    public let kinds: [TokenKind]
    public let preTokenizer: BPEPreTokenizer
    public let bosID: Int32?, eosID: Int32?
    public let addBOS: Bool
    /// The merges, highest priority first, as the file listed them.
    public let mergeList: [String]

    /// Every string that can be a symbol during merging (tokens, both sides of
    /// every merge and its result), numbered; merges and tokens refer to these.
    private let symbolOfText: [String: Int32]
    private let textOfSymbol: [String]
    private let tokenOfSymbol: [Int32]  // -1: not a token
    /// `left << 32 | right` → (rank, merged symbol).
    private let merges: [UInt64: (rank: Int32, result: Int32)]
    private let symbolOfByte: [Int32]
    /// Special tokens cut out of the text before pre-tokenization, longest first.
    private let specials: [(scalars: [Unicode.Scalar], id: Int32, control: Bool)]

    /// - Parameters:
    ///   - merges: `"left right"` pairs, highest priority first (GGUF `tokenizer.ggml.merges`).
    ///   - origin: names the file in errors.
    public init(tokens: [String], kinds: [TokenKind], merges mergeList: [String], preTokenizer: BPEPreTokenizer,
                bosID: Int32?, eosID: Int32?, addBOS: Bool, origin: String) throws {
        guard !tokens.isEmpty, kinds.count == tokens.count else {
            throw SlimError.malformedFile(path: origin, detail: "tokenizer has \(tokens.count) tokens and \(kinds.count) token types")
        }
        for (name, id) in [("BOS", bosID), ("EOS", eosID)] {
            if let id, !(0..<Int32(tokens.count)).contains(id) {
                throw SlimError.malformedFile(path: origin, detail: "\(name) token id \(id) is outside the vocabulary of \(tokens.count)")
            }
        }
        self.tokens = tokens
        self.kinds = kinds
        self.preTokenizer = preTokenizer
        self.bosID = bosID
        self.eosID = eosID
        self.addBOS = addBOS
        self.mergeList = mergeList

        var symbolOfText: [String: Int32] = [:], textOfSymbol: [String] = [], tokenOfSymbol: [Int32] = []
        func symbol(_ text: String) -> Int32 {
            if let s = symbolOfText[text] { return s }
            let s = Int32(textOfSymbol.count)
            symbolOfText[text] = s
            textOfSymbol.append(text)
            tokenOfSymbol.append(-1)
            return s
        }
        for (id, text) in tokens.enumerated() where kinds[id] != .control && kinds[id] != .userDefined {
            let s = symbol(text)
            if tokenOfSymbol[Int(s)] < 0 { tokenOfSymbol[Int(s)] = Int32(id) }  // the first id of a duplicated text wins
        }
        var merges: [UInt64: (rank: Int32, result: Int32)] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, merge) in mergeList.enumerated() {
            // As llama.cpp: the separator is the first space after the first character.
            let scalars = Array(merge.unicodeScalars)
            guard scalars.count >= 3, let space = scalars[1...].firstIndex(of: " ") else {
                throw SlimError.malformedFile(path: origin, detail: "merge \(rank) '\(merge)' is not two symbols separated by a space")
            }
            let left = String(String.UnicodeScalarView(scalars[..<space])), right = String(String.UnicodeScalarView(scalars[(space + 1)...]))
            let key = UInt64(UInt32(symbol(left))) << 32 | UInt64(UInt32(symbol(right)))
            if merges[key] == nil { merges[key] = (Int32(rank), symbol(left + right)) }
        }
        symbolOfByte = ByteLevelAlphabet.scalarOfByte.map { symbol(String($0)) }
        self.symbolOfText = symbolOfText
        self.textOfSymbol = textOfSymbol
        self.tokenOfSymbol = tokenOfSymbol
        self.merges = merges
        specials = tokens.indices
            .filter { (kinds[$0] == .control || kinds[$0] == .userDefined) && !tokens[$0].isEmpty }
            .map { (Array(tokens[$0].unicodeScalars), Int32($0), kinds[$0] == .control) }
            .sorted { $0.scalars.count > $1.scalars.count }
    }

    public var vocabularySize: Int { tokens.count }

    /// The ids of `text`.
    /// - Parameters:
    ///   - addBOS: prepend the BOS token; `nil` follows the file (`tokenizer.ggml.add_bos_token`).
    ///   - parseSpecial: recognise control tokens such as `<|im_start|>` written in the text
    ///     (user-defined tokens are always recognised), as `llama-tokenize` does by default.
    public func encode(_ text: String, addBOS: Bool? = nil, parseSpecial: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        if addBOS ?? self.addBOS, let bosID { ids.append(bosID) }
        let scalars = Array(text.unicodeScalars)
        var cache: [ArraySlice<Unicode.Scalar>: [Int32]] = [:]
        for fragment in fragments(scalars, parseSpecial: parseSpecial) {
            switch fragment {
            case let .special(id): ids.append(id)
            case let .text(range):
                let piece = Array(scalars[range])
                for word in preTokenizer.words(piece) {
                    let key = piece[word]
                    if let known = cache[key] { ids += known; continue }
                    let wordIDs = mergeWord(String(String.UnicodeScalarView(key)))
                    cache[key] = wordIDs
                    ids += wordIDs
                }
            }
        }
        return ids
    }

    /// The bytes token `id` stands for: control tokens stand for nothing (as
    /// llama.cpp prints them without `special`), user-defined ones for their text.
    public func bytes(of id: Int32) -> [UInt8] {
        guard tokens.indices.contains(Int(id)) else { return [] }
        switch kinds[Int(id)] {
        case .control: return []
        case .userDefined: return Array(tokens[Int(id)].utf8)
        default: return ByteLevelAlphabet.decode(tokens[Int(id)]) ?? Array(tokens[Int(id)].utf8)
        }
    }

    /// The text of `ids`; bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.flatMap(bytes(of:)), as: UTF8.self)
    }

    // MARK: - Special tokens

    private enum Fragment { case text(Range<Int>), special(Int32) }

    private func fragments(_ text: [Unicode.Scalar], parseSpecial: Bool) -> [Fragment] {
        let candidates = specials.filter { parseSpecial || !$0.control }
        guard !candidates.isEmpty else { return [.text(0..<text.count)] }
        var out: [Fragment] = [], start = 0, i = 0
        scan: while i < text.count {
            for special in candidates where text[i] == special.scalars[0] && i + special.scalars.count <= text.count
                && text[i..<i + special.scalars.count].elementsEqual(special.scalars) {
                if start < i { out.append(.text(start..<i)) }
                out.append(.special(special.id))
                i += special.scalars.count
                start = i
                continue scan
            }
            i += 1
        }
        if start < text.count { out.append(.text(start..<text.count)) }
        return out
    }

    // MARK: - Merging

    /// Merges one word's byte symbols; a final symbol that is not a token
    /// falls back to the tokens of its single bytes, as llama.cpp does.
    private func mergeWord(_ word: String) -> [Int32] {
        var symbols = word.utf8.map { symbolOfByte[Int($0)] }
        // The lowest-rank adjacent pair merges first, the leftmost on a tie;
        // words are short, so a scan per merge beats a heap.
        while symbols.count > 1 {
            var best: (rank: Int32, at: Int, result: Int32)? = nil
            for i in 0..<symbols.count - 1 {
                let key = UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))
                if let m = merges[key], best == nil || m.rank < best!.rank { best = (m.rank, i, m.result) }
            }
            guard let best else { break }
            symbols[best.at] = best.result
            symbols.remove(at: best.at + 1)
        }
        var ids: [Int32] = []
        for s in symbols {
            let token = tokenOfSymbol[Int(s)]
            if token >= 0 { ids.append(token); continue }
            for byte in textOfSymbol[Int(s)].utf8 {
                if let single = symbolOfText[String(UnicodeScalar(byte))], tokenOfSymbol[Int(single)] >= 0, byte < 0x80 {
                    ids.append(tokenOfSymbol[Int(single)])
                }
            }
        }
        return ids
    }
}
