/// Token sequences padded to the longest one, row-major `[batch, sequenceLength]`,
/// with the masks a BERT encoder takes (`BertTokenizerFast` with `padding=True`).
public struct TokenizedBatch: Sendable, Equatable {
    /// Token ids, each row padded at the end with the pad id.
    public let ids: [Int32]
    /// 1 for a token, 0 for padding.
    public let attentionMask: [Int32]
    /// All 0: one segment per sequence.
    public let tokenTypeIds: [Int32]
    /// Tokens per sequence before padding.
    public let lengths: [Int]
    /// The longest sequence, the length of every row.
    public let sequenceLength: Int

    public var batchSize: Int { lengths.count }

    public init(sequences: [[Int32]], padID: Int32) {
        let width = sequences.map(\.count).max() ?? 0
        var ids: [Int32] = [], mask: [Int32] = []
        ids.reserveCapacity(sequences.count * width)
        mask.reserveCapacity(sequences.count * width)
        for s in sequences {
            ids += s
            ids += repeatElement(padID, count: width - s.count)
            mask += repeatElement(1, count: s.count)
            mask += repeatElement(0, count: width - s.count)
        }
        self.ids = ids
        attentionMask = mask
        tokenTypeIds = Array(repeating: 0, count: ids.count)
        lengths = sequences.map(\.count)
        sequenceLength = width
    }

    /// The padded ids of sequence `i`.
    public func row(_ i: Int) -> ArraySlice<Int32> {
        ids[i * sequenceLength..<(i + 1) * sequenceLength]
    }
}
