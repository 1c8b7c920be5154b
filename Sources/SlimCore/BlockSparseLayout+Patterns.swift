/// The attention patterns of the literature as block layouts. Each builds the
/// kept blocks row by row, so its size grows with the kept blocks; token-level
/// edges (a window that ends inside a block, the causal diagonal) are element
/// masks the kernels apply inside partial blocks.
extension BlockSparseLayout {
    /// Every key at or before the query (the keys end with the queries).
    public static func causal(queryLength: Int, keyLength: Int? = nil, blockSize: Int = 64) throws(SlimError) -> BlockSparseLayout {
        let lk = keyLength ?? queryLength, offset = lk - queryLength
        let rows = blockRows(queryLength, lk, blockSize) { _, qHi in
            let hi = min(lk - 1, qHi + offset)
            return hi >= 0 ? Array(0...hi / blockSize) : []
        }
        return try BlockSparseLayout(queryLength: queryLength, keyLength: lk, blockSize: blockSize, rows: rows, causal: true)
    }

    /// A sliding window: query i (at key position p = i + offset) sees keys
    /// p − left ... p + right. Causal windows have right = 0 and are aligned
    /// bottom-right (the last query sees the last key).
    public static func window(queryLength: Int, keyLength: Int? = nil, blockSize: Int = 64, left: Int, right: Int,
                              causal: Bool = false) throws(SlimError) -> BlockSparseLayout {
        let lk = keyLength ?? queryLength
        guard left >= 0, right >= 0, left < Int(Int32.max), right < Int(Int32.max) else {
            throw .invalidArgument("attention window: left \(left) and right \(right) must be in 0..<2³¹")
        }
        let offset = lk - queryLength
        let rows = blockRows(queryLength, lk, blockSize) { qLo, qHi in
            let lo = max(0, qLo + offset - left), hi = min(lk - 1, qHi + offset + (causal ? 0 : right))
            return lo <= hi ? Array(lo / blockSize...hi / blockSize) : []
        }
        return try BlockSparseLayout(queryLength: queryLength, keyLength: lk, blockSize: blockSize, rows: rows, causal: causal,
                                     window: AttentionWindow(left: left, right: causal ? 0 : right))
    }

    /// Local blocks every `dilation` blocks: query block r keeps key blocks
    /// r − k·dilation for k = 0 ... reach (and the mirror when not causal).
    public static func dilated(length: Int, blockSize: Int = 64, reach: Int, dilation: Int, causal: Bool = false) throws(SlimError) -> BlockSparseLayout {
        guard reach >= 0, dilation >= 1 else { throw .invalidArgument("dilated attention: reach \(reach) ≥ 0 and dilation \(dilation) ≥ 1") }
        let kb = (length + blockSize - 1) / blockSize
        var rows: [[Int]] = []
        for r in 0..<kb {
            var kept = Set<Int>()
            for k in 0...reach {
                kept.insert(r - k * dilation)
                if !causal { kept.insert(r + k * dilation) }
            }
            rows.append(kept.filter { (0..<kb).contains($0) }.sorted())
        }
        return try BlockSparseLayout(queryLength: length, keyLength: length, blockSize: blockSize, rows: rows, causal: causal)
    }

    /// Adds global tokens: the first `count` tokens attend to every key and every query attends to them.
    public func addingGlobalTokens(_ count: Int) throws(SlimError) -> BlockSparseLayout {
        guard count >= 0 else { throw .invalidArgument("global tokens: \(count) must be ≥ 0") }
        let globalBlocks = (count + blockSize - 1) / blockSize
        let rows = (0..<queryBlocks).map { r -> [Int] in
            if r < globalBlocks { return Array(0..<keyBlocks) }
            return Array(Set(keptColumns(ofRow: r) + Array(0..<min(globalBlocks, keyBlocks)))).sorted()
        }
        return try BlockSparseLayout(queryLength: queryLength, keyLength: keyLength, blockSize: blockSize, rows: rows,
                                     causal: causal, window: window, globalTokens: count)
    }

    /// Sparse Transformer "strided": a local band of `stride` tokens plus every
    /// key block whose end lines up with the stride (causal).
    public static func strided(length: Int, blockSize: Int = 64, stride tokens: Int) throws(SlimError) -> BlockSparseLayout {
        guard tokens >= blockSize, tokens % blockSize == 0 else {
            throw .invalidArgument("strided attention: stride \(tokens) must be a multiple of the block size \(blockSize)")
        }
        let kb = (length + blockSize - 1) / blockSize, step = tokens / blockSize
        let rows = (0..<kb).map { r -> [Int] in
            let band = Array(max(0, r - step + 1)...r), lined = Array(Swift.stride(from: r % step, through: r, by: step))
            return Array(Set(band + lined)).sorted()
        }
        return try BlockSparseLayout(queryLength: length, keyLength: length, blockSize: blockSize, rows: rows, causal: true)
    }

    /// Sparse Transformer "fixed": each query sees its own stride-long segment
    /// and the last block of every earlier segment (causal).
    public static func fixed(length: Int, blockSize: Int = 64, stride tokens: Int) throws(SlimError) -> BlockSparseLayout {
        guard tokens >= blockSize, tokens % blockSize == 0 else {
            throw .invalidArgument("fixed attention: stride \(tokens) must be a multiple of the block size \(blockSize)")
        }
        let kb = (length + blockSize - 1) / blockSize, step = tokens / blockSize
        let rows = (0..<kb).map { r -> [Int] in
            let segment = r / step * step
            let summaries = Array(Swift.stride(from: step - 1, to: segment, by: step))
            return Array(Set(Array(segment...r) + summaries)).sorted()
        }
        return try BlockSparseLayout(queryLength: length, keyLength: length, blockSize: blockSize, rows: rows, causal: true)
    }

    /// BigBird: a window of `windowBlocks` blocks each side, `globalBlocks`
    /// global blocks, and `randomBlocks` random key blocks per row (seeded).
    public static func bigBird(length: Int, blockSize: Int = 64, windowBlocks: Int = 1, globalBlocks: Int = 1,
                               randomBlocks: Int = 2, seed: UInt64 = 0) throws(SlimError) -> BlockSparseLayout {
        let kb = (length + blockSize - 1) / blockSize
        var state = seed
        func random(_ n: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
        let rows = (0..<kb).map { r -> [Int] in
            if r < globalBlocks { return Array(0..<kb) }
            var kept = Set(max(0, r - windowBlocks)...min(kb - 1, r + windowBlocks)).union(0..<min(globalBlocks, kb))
            let candidates = (0..<kb).filter { !kept.contains($0) }
            var pool = candidates
            for _ in 0..<min(randomBlocks, pool.count) { kept.insert(pool.remove(at: random(pool.count))) }
            return kept.sorted()
        }
        return try BlockSparseLayout(queryLength: length, keyLength: length, blockSize: blockSize, rows: rows)
    }

    /// Packed variable-length sequences: each sees only itself. `lengths` must
    /// be multiples of the block size except the last, so no block straddles two.
    public static func blockDiagonal(lengths: [Int], blockSize: Int = 64, causal: Bool = false) throws(SlimError) -> BlockSparseLayout {
        guard !lengths.isEmpty, lengths.allSatisfy({ $0 > 0 }), lengths.dropLast().allSatisfy({ $0 % blockSize == 0 }) else {
            throw .invalidArgument("block-diagonal attention: lengths \(lengths) must be positive and all but the last multiples of \(blockSize)")
        }
        var rows: [[Int]] = [], first = 0
        for n in lengths {
            let blocks = (n + blockSize - 1) / blockSize
            for r in 0..<blocks { rows.append(Array(first..<(causal ? first + r + 1 : first + blocks))) }
            first += blocks
        }
        let total = lengths.reduce(0, +)
        return try BlockSparseLayout(queryLength: total, keyLength: total, blockSize: blockSize, rows: rows, causal: causal)
    }

    /// A layout from a boolean block mask, `mask[r][c]` keeping key block c for query block r.
    public static func custom(queryLength: Int, keyLength: Int, blockSize: Int, blockMask: [[Bool]],
                              causal: Bool = false) throws(SlimError) -> BlockSparseLayout {
        let kb = (keyLength + blockSize - 1) / blockSize
        guard blockMask.allSatisfy({ $0.count == kb }) else {
            throw .invalidArgument("custom attention mask: every row must have \(kb) key blocks")
        }
        return try BlockSparseLayout(queryLength: queryLength, keyLength: keyLength, blockSize: blockSize,
                                     rows: blockMask.map { row in row.indices.filter { row[$0] } }, causal: causal)
    }

    /// The key blocks of query block `r`, ascending.
    public func keptColumns(ofRow r: Int) -> [Int] { columns[Int(rowStarts[r])..<Int(rowStarts[r + 1])].map(Int.init) }

    /// Whether query i sees key j: its block kept and the element masks (causal, window) passed.
    /// (Padding — per-sequence key lengths — is an option of the attention call, not of the layout.)
    public func sees(query i: Int, key j: Int, queryOffset: Int? = nil) -> Bool {
        let p = i + (queryOffset ?? keyLength - queryLength)
        guard keptColumns(ofRow: i / blockSize).contains(j / blockSize) else { return false }
        if causal && j > p { return false }
        if let w = window, i >= globalTokens, j >= globalTokens, j < p - w.left || j > p + w.right { return false }
        return true
    }

    /// Kept key blocks per query block, from the token range each query block covers.
    static func blockRows(_ lq: Int, _ lk: Int, _ bs: Int, _ keep: (Int, Int) -> [Int]) -> [[Int]] {
        (0..<(lq + bs - 1) / bs).map { r in keep(r * bs, min(lq, (r + 1) * bs) - 1) }
    }
}
