import SlimCore

/// One Llama decoder block (pre-norm): `x += O(attention(rope(Q h), rope(K h), V h))`
/// with `h = RMSNorm(x)`, then `x += W_down(silu(W_gate h) · W_up h)` with `h = RMSNorm(x)`.
struct LlamaBlock: Sendable {
    let attentionNorm: Tensor, ffnNorm: Tensor
    let query: Linear, key: Linear, value: Linear, output: Linear
    let gate: Linear, up: Linear, down: Linear

    init(index i: Int, config c: LlamaConfig, weights w: StoredWeights, activations: ActivationPrecision,
         requantize: QuantFormat?) throws {
        let p = "blk.\(i)."
        attentionNorm = try w.floats(p + "attn_norm.weight", shape: [c.hiddenSize])
        ffnNorm = try w.floats(p + "ffn_norm.weight", shape: [c.hiddenSize])
        func linear(_ name: String, _ out: Int, _ inFeatures: Int) throws -> Linear {
            try w.linear(p + name + ".weight", out: out, in: inFeatures, activations: activations, requantize: requantize)
        }
        query = try linear("attn_q", c.hiddenSize, c.hiddenSize)
        key = try linear("attn_k", c.kvDim, c.hiddenSize)
        value = try linear("attn_v", c.kvDim, c.hiddenSize)
        output = try linear("attn_output", c.hiddenSize, c.hiddenSize)
        gate = try linear("ffn_gate", c.intermediateSize, c.hiddenSize)
        up = try linear("ffn_up", c.intermediateSize, c.hiddenSize)
        down = try linear("ffn_down", c.hiddenSize, c.intermediateSize)
    }
}

/// Keys and values of the tokens seen so far, one pair of `[1, capacity, kvHeads, headDim]` tensors per block.
public final class KVCache: @unchecked Sendable {
    // @unchecked: one generation loop owns a cache at a time.
    let keys: [Tensor], values: [Tensor]
    public let capacity: Int
    public internal(set) var count = 0

    init(config c: LlamaConfig, capacity: Int, on backend: any Backend) throws {
        self.capacity = capacity
        keys = try (0..<c.layers).map { try backend.allocate([1, capacity, c.kvHeads, c.headDim], name: "kv.\($0).keys") }
        values = try (0..<c.layers).map { try backend.allocate([1, capacity, c.kvHeads, c.headDim], name: "kv.\($0).values") }
    }
}
