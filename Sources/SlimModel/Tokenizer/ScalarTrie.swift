/// Token strings as paths of Unicode scalars, for longest-prefix lookups.
///
/// WordPiece asks "which is the longest vocabulary entry this word starts
/// with?" at every piece; walking a trie answers it in one pass over the word
/// instead of hashing every shorter candidate. Keys compare scalar by scalar,
/// as Rust's `HashMap<String, u32>` compares bytes: Swift's `String` equality
/// would treat a precomposed "é" and "e" + U+0301 as one token.
struct ScalarTrie: Sendable {
    typealias Node = Int32

    /// Child of (node, scalar), keyed as node << 21 | scalar (scalars need 21 bits).
    private var children: [UInt64: Node] = [:]
    /// The value at each node, -1 where no key ends.
    private var values: [Int32]

    /// A trie with `roots` independent roots, numbered from 0.
    init(roots: Int) {
        values = Array(repeating: -1, count: roots)
    }

    /// Stores `value` under `key` below `root`, replacing an earlier one.
    mutating func insert(_ key: some Sequence<Unicode.Scalar>, value: Int32, root: Node) {
        var node = root
        for s in key {
            let edge = Self.edge(node, s)
            if let next = children[edge] {
                node = next
            } else {
                let next = Node(values.count)
                values.append(-1)
                children[edge] = next
                node = next
            }
        }
        values[Int(node)] = value
    }

    /// The value stored under exactly `key`.
    func value(_ key: some Sequence<Unicode.Scalar>, root: Node) -> Int32? {
        var node = root
        for s in key {
            guard let next = children[Self.edge(node, s)] else { return nil }
            node = next
        }
        let v = values[Int(node)]
        return v >= 0 ? v : nil
    }

    /// The longest prefix of `word` that is a key, as its length in scalars and its value.
    @inline(__always)
    func longestPrefix(of word: ArraySlice<Unicode.Scalar>, root: Node) -> (length: Int, value: Int32)? {
        var node = root, best: (length: Int, value: Int32)?
        var length = 0
        for s in word {
            guard let next = children[Self.edge(node, s)] else { break }
            node = next
            length += 1
            let v = values[Int(node)]
            if v >= 0 { best = (length, v) }
        }
        return best
    }

    @inline(__always)
    private static func edge(_ node: Node, _ s: Unicode.Scalar) -> UInt64 {
        UInt64(UInt32(bitPattern: node)) << 21 | UInt64(s.value)
    }
}
