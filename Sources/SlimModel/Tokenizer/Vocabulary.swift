/// A WordPiece vocabulary: token ↔ id, and the longest-match lookups of the
/// WordPiece model, for a word's first piece and for its continuations
/// (entries spelled with the continuation prefix, "##" in BERT).
public struct Vocabulary: Sendable {
    /// The token of each id; "" where an id has no token.
    public let tokens: [String]
    public let continuationPrefix: String
    private let trie: ScalarTrie

    private static let wholeRoot: ScalarTrie.Node = 0, continuationRoot: ScalarTrie.Node = 1

    /// `entries` in order; where a token comes twice the later id wins, as in
    /// tokenizers and transformers. Ids must not be negative.
    public init(_ entries: some Sequence<(token: String, id: Int32)>, continuationPrefix: String = "##") {
        var trie = ScalarTrie(roots: 2)
        var tokens: [String] = []
        let prefix = Array(continuationPrefix.unicodeScalars)
        for (token, id) in entries where id >= 0 && !token.isEmpty {
            let scalars = Array(token.unicodeScalars)
            trie.insert(scalars, value: id, root: Self.wholeRoot)
            // A continuation is looked up as prefix + piece with a non-empty piece.
            if scalars.count > prefix.count, scalars.starts(with: prefix) {
                trie.insert(scalars[prefix.count...], value: id, root: Self.continuationRoot)
            }
            if Int(id) >= tokens.count { tokens += Array(repeating: "", count: Int(id) + 1 - tokens.count) }
            tokens[Int(id)] = token
        }
        self.tokens = tokens
        self.continuationPrefix = continuationPrefix
        self.trie = trie
    }

    /// A `vocab.txt`'s lines: the id of a token is its line number.
    public init(lines: [String], continuationPrefix: String = "##") {
        self.init(lines.enumerated().map { (token: $0.element, id: Int32($0.offset)) }, continuationPrefix: continuationPrefix)
    }

    /// One more than the largest id.
    public var count: Int { tokens.count }

    /// The id of exactly `token` (scalar for scalar).
    public func id(of token: String) -> Int32? {
        trie.value(token.unicodeScalars, root: Self.wholeRoot)
    }

    /// The token of `id`, nil outside the vocabulary.
    public func token(of id: Int32) -> String? {
        tokens.indices.contains(Int(id)) && !tokens[Int(id)].isEmpty ? tokens[Int(id)] : nil
    }

    /// The longest entry `word` starts with; a continuation matches the
    /// entries spelled with the prefix, without it. Returns the match's length
    /// in scalars and its id.
    @inline(__always)
    func longestMatch(_ word: ArraySlice<Unicode.Scalar>, continuation: Bool) -> (length: Int, id: Int32)? {
        trie.longestPrefix(of: word, root: continuation ? Self.continuationRoot : Self.wholeRoot)
            .map { (length: $0.length, id: $0.value) }
    }
}
