import SlimCore

/// What every block of one forward pass shares: the tokens' positions, the
/// rotary frequencies, the causal attention layout, and the cache the keys go to.
public struct DecoderStep: Sendable {
    public let config: DecoderConfig
    public let backend: any Backend
    public let tokens: Int
    /// Position of the first token (the cache's length before this step).
    public let start: Int
    let positions: Tensor, frequencies: Tensor
    let ropeStyle: RopeStyle
    let layout: BlockSparseLayout, options: AttentionOptions
    let cache: KVCache?

    /// `tokens` new tokens after `start` earlier ones in `cache` (nil: a sequence of their own).
    public init(tokens n: Int, config c: DecoderConfig, frequencies: Tensor, ropeStyle: RopeStyle, cache: KVCache? = nil,
                on backend: any Backend) throws {
        let start = cache?.count ?? 0
        guard n > 0 else { throw SlimError.invalidArgument("no tokens to run") }
        guard start + n <= (cache?.capacity ?? c.contextLength) else {
            throw SlimError.invalidArgument("\(start + n) tokens exceed the context of \(cache?.capacity ?? c.contextLength)")
        }
        (config, self.backend, tokens, self.start, self.frequencies, self.ropeStyle, self.cache) = (c, backend, n, start, frequencies, ropeStyle, cache)
        positions = try backend.tensor((0..<n).map { Int32(start + $0) }, shape: [n], dtype: .i32, name: "positions")
        // Causal attention of the new queries: against themselves, or against the cache (whose unused tail is masked).
        let keyLength = cache?.capacity ?? n
        let block = min(64, max(16, (n + 15) / 16 * 16))
        let visible = start + n
        // Query block r sees key blocks up to the one holding its last query's position.
        let rows = (0..<(n + block - 1) / block).map { r in
            Array(0...(min(visible, start + min(n, (r + 1) * block)) - 1) / block)
        }
        layout = try BlockSparseLayout(queryLength: n, keyLength: keyLength, blockSize: block, rows: rows, causal: true)
        let lengths = cache == nil ? nil : try backend.tensor([Int32(visible)], shape: [1], dtype: .i32, name: "cache length")
        options = AttentionOptions(scale: 1 / Float(c.headDim).squareRoot(), keyLengths: lengths, queryOffset: start)
    }
}

/// The activations of one forward pass through a block, reused by every block.
public struct DecoderScratch: Sendable {
    let normed: Tensor, q: Tensor, k: Tensor, v: Tensor, context: Tensor, residual: Tensor, gate: Tensor, up: Tensor

    public init(tokens n: Int, config c: DecoderConfig, on b: any Backend) throws {
        normed = try b.allocate([n, c.hiddenSize], name: "normed")
        q = try b.allocate([n, c.queryDim], name: "query")
        k = try b.allocate([n, c.kvDim], name: "key")
        v = try b.allocate([n, c.kvDim], name: "value")
        context = try b.allocate([n, c.queryDim], name: "context")
        residual = try b.allocate([n, c.hiddenSize], name: "residual")
        gate = try b.allocate([n, c.intermediateSize], name: "gate")
        up = try b.allocate([n, c.intermediateSize], name: "up")
    }
}
