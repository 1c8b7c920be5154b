import SlimCore

/// One Llama decoder block (pre-norm): `x += O(attention(rope(Q h), rope(K h), V h))`
/// with `h = RMSNorm(x)`, then `x += W_down(silu(W_gate h) · W_up h)` with `h = RMSNorm(x)`.
struct LlamaBlock: Sendable {
    let attentionNorm: Tensor, ffnNorm: Tensor
    let query: Linear, key: Linear, value: Linear, output: Linear
    let gate: Linear, up: Linear, down: Linear

    init(index i: Int, config c: LlamaConfig, store: some WeightStore, names: LlamaTensorNames, on backend: any Backend,
         activations: ActivationPrecision, requantize: QuantFormat?) throws {
        func norm(_ part: LlamaTensorNames.Part) throws -> Tensor {
            try store.upload(names.block(i, part) + ".weight", shape: [c.hiddenSize], to: backend)
        }
        func linear(_ part: LlamaTensorNames.Part, _ out: Int, _ inFeatures: Int) throws -> Linear {
            try Linear(names.block(i, part), in: inFeatures, out: out, from: store, on: backend,
                       quantization: requantize.map { LinearQuantization(format: $0, activations: activations) },
                       hasBias: false, packedActivations: activations)
        }
        attentionNorm = try norm(.attentionNorm)
        ffnNorm = try norm(.ffnNorm)
        query = try linear(.query, c.hiddenSize, c.hiddenSize)
        key = try linear(.key, c.kvDim, c.hiddenSize)
        value = try linear(.value, c.kvDim, c.hiddenSize)
        output = try linear(.attentionOutput, c.hiddenSize, c.hiddenSize)
        gate = try linear(.gate, c.intermediateSize, c.hiddenSize)
        up = try linear(.up, c.intermediateSize, c.hiddenSize)
        down = try linear(.down, c.hiddenSize, c.intermediateSize)
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
