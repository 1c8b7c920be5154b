/// Which key blocks each query block attends to: one format for every
/// attention pattern, its size growing with the kept blocks, never with n².
///
/// Stored as compressed rows: the kept key blocks of query block `r` are
/// `columns[rowStarts[r] ..< rowStarts[r + 1]]`, sorted ascending. Blocks
/// marked `partial` apply an element mask inside the block (the causal
/// diagonal, ragged sequence ends); full blocks need none.
public struct BlockSparseLayout: Sendable, Equatable {
    public let queryLength: Int
    public let keyLength: Int
    public let blockSize: Int
    public let rowStarts: [Int32]
    public let columns: [Int32]
    public let partial: [Bool]
    /// Whether partial blocks mask keys after the query position (causal) as well as past the end.
    public let causal: Bool
    /// A token-level window inside the kept blocks (sliding-window layouts); nil: none.
    public let window: AttentionWindow?
    /// The first `globalTokens` queries and keys are exempt from the window.
    public let globalTokens: Int
    /// The transposed lists: the query blocks that keep key block `c` are
    /// `transposedRows[transposedStarts[c] ..< transposedStarts[c + 1]]`,
    /// ascending (the backward pass sweeps keys).
    public let transposedStarts: [Int32]
    public let transposedRows: [Int32]

    public var queryBlocks: Int { (queryLength + blockSize - 1) / blockSize }
    public var keyBlocks: Int { (keyLength + blockSize - 1) / blockSize }
    public var keptBlocks: Int { columns.count }

    /// Builds a layout from a kept-block list per query-block row, validating it.
    public init(queryLength: Int, keyLength: Int, blockSize: Int, rows: [[Int]], causal: Bool = false,
                window: AttentionWindow? = nil, globalTokens: Int = 0) throws(SlimError) {
        guard (16...128).contains(blockSize), queryLength > 0, keyLength > 0 else {
            throw .invalidArgument("attention layout: block size \(blockSize) must be in 16...128 and lengths positive")
        }
        let qb = (queryLength + blockSize - 1) / blockSize, kb = (keyLength + blockSize - 1) / blockSize
        guard rows.count == qb else {
            throw .invalidArgument("attention layout: \(rows.count) block rows for \(qb) query blocks")
        }
        var starts: [Int32] = [0], cols: [Int32] = [], part: [Bool] = []
        for (r, row) in rows.enumerated() {
            guard row == row.sorted(), Set(row).count == row.count, row.allSatisfy({ (0..<kb).contains($0) }) else {
                throw .invalidArgument("attention layout: row \(r) must list distinct key blocks in 0..<\(kb), ascending")
            }
            for c in row {
                cols.append(Int32(c))
                let ragged = (c + 1) * blockSize > keyLength || (r + 1) * blockSize > queryLength
                part.append(ragged || (causal && (c + 1) * blockSize - 1 > r * blockSize))
            }
            starts.append(Int32(cols.count))
        }
        self.queryLength = queryLength
        self.keyLength = keyLength
        self.blockSize = blockSize
        self.rowStarts = starts
        self.columns = cols
        self.partial = part
        self.causal = causal
        self.window = window
        self.globalTokens = globalTokens
        var starts2 = [Int32](repeating: 0, count: kb + 1)
        for c in cols { starts2[Int(c) + 1] += 1 }
        for c in 0..<kb { starts2[c + 1] += starts2[c] }
        var fill = starts2, trows = [Int32](repeating: 0, count: cols.count)
        for r in 0..<qb {
            for p in Int(starts[r])..<Int(starts[r + 1]) {
                let c = Int(cols[p])
                trows[Int(fill[c])] = Int32(r)
                fill[c] += 1
            }
        }
        transposedStarts = starts2
        transposedRows = trows
    }

    /// Bytes the layout occupies: proportional to the kept blocks.
    public var byteCount: Int { 4 * (rowStarts.count + columns.count + transposedStarts.count + transposedRows.count) + partial.count }

    /// Every block kept: dense attention.
    public static func dense(queryLength: Int, keyLength: Int, blockSize: Int = 64) throws(SlimError) -> BlockSparseLayout {
        let kb = (keyLength + blockSize - 1) / blockSize
        let qb = (queryLength + blockSize - 1) / blockSize
        return try BlockSparseLayout(queryLength: queryLength, keyLength: keyLength, blockSize: blockSize,
                                     rows: Array(repeating: Array(0..<kb), count: qb))
    }
}

/// Keys a query sees around its own position, in tokens.
public struct AttentionWindow: Sendable, Equatable {
    public let left: Int, right: Int
    public init(left: Int, right: Int) { self.left = left; self.right = right }
}
