import SlimCore

/// One pre-norm decoder block of any family (``DecoderArchitecture``):
/// `x += O(attention(rope(norm_q(Q h)), rope(norm_k(K h)), V h))` with `h = RMSNorm(x)`,
/// then `x += W_down(act(W_gate h) · W_up h)` with `h = RMSNorm(x)`.
/// A model holds all of its blocks; the layer-wise compressor holds one at a time.
public struct DecoderBlock: Sendable {
    public let index: Int
    let attentionNorm: Tensor, ffnNorm: Tensor
    /// Qwen3's per-head RMSNorm of queries and keys, `[headDim]` each.
    let queryNorm: Tensor?, keyNorm: Tensor?
    public let query: Linear, key: Linear, value: Linear, output: Linear
    public let gate: Linear, up: Linear, down: Linear

    /// Block `i` of `store`, whose weights are named as `names` says. Float
    /// weights are quantized to `requantize` when given; packed ones run packed.
    public init(index i: Int, config c: DecoderConfig, store: some WeightStore, names: DecoderTensorNames, on backend: any Backend,
                activations: ActivationPrecision = .f32, requantize: QuantFormat? = nil) throws {
        let a = c.architecture
        func norm(_ part: DecoderTensorNames.Part, width: Int) throws -> Tensor {
            let name = names.block(i, part) + ".weight"
            var w = try store.floats(name, shape: [width])
            // Gemma's RMSNorm multiplies by 1 + w, in fp32 as transformers does.
            if a.normOffset != 0 { w = w.map { $0 + a.normOffset } }
            return try backend.tensor(w, shape: [width], name: name)
        }
        func linear(_ part: DecoderTensorNames.Part, _ out: Int, _ inFeatures: Int, bias: Bool) throws -> Linear {
            try Linear(names.block(i, part), in: inFeatures, out: out, from: store, on: backend,
                       quantization: requantize.map { LinearQuantization(format: $0, activations: activations) },
                       hasBias: bias, packedActivations: activations)
        }
        index = i
        attentionNorm = try norm(.attentionNorm, width: c.hiddenSize)
        ffnNorm = try norm(.ffnNorm, width: c.hiddenSize)
        queryNorm = a.queryKeyNorm ? try norm(.queryNorm, width: c.headDim) : nil
        keyNorm = a.queryKeyNorm ? try norm(.keyNorm, width: c.headDim) : nil
        query = try linear(.query, c.queryDim, c.hiddenSize, bias: a.queryKeyValueBias)
        key = try linear(.key, c.kvDim, c.hiddenSize, bias: a.queryKeyValueBias)
        value = try linear(.value, c.kvDim, c.hiddenSize, bias: a.queryKeyValueBias)
        output = try linear(.attentionOutput, c.hiddenSize, c.queryDim, bias: a.attentionOutputBias)
        gate = try linear(.gate, c.intermediateSize, c.hiddenSize, bias: a.mlpBias)
        up = try linear(.up, c.intermediateSize, c.hiddenSize, bias: a.mlpBias)
        down = try linear(.down, c.hiddenSize, c.intermediateSize, bias: a.mlpBias)
    }

    /// The linear layers in the order they run.
    public var linears: [Linear] { [query, key, value, output, gate, up, down] }

    /// Runs the block on `x` (`[tokens, hidden]`, updated in place). `observer`
    /// sees the input of each group of linears that share one (Q for Q, K, V;
    /// gate for gate and up), by the first one's weight name.
    public func forward(_ x: Tensor, step: DecoderStep, scratch s: DecoderScratch, observer: LinearInputObserver? = nil) throws {
        let c = step.config, b = step.backend, n = step.tokens
        try b.rmsNorm(x, weight: attentionNorm, epsilon: c.rmsEpsilon, into: s.normed)
        try observer?(query.name, s.normed)
        try query.apply(s.normed, into: s.q, on: b)
        try key.apply(s.normed, into: s.k, on: b)
        try value.apply(s.normed, into: s.v, on: b)
        let q = try s.q.reshaped([n, c.heads, c.headDim]), k = try s.k.reshaped([n, c.kvHeads, c.headDim])
        if let queryNorm, let keyNorm {
            // Per head: the same RMSNorm over headDim features of every head of every token.
            try b.rmsNorm(try s.q.reshaped([n * c.heads, c.headDim]), weight: queryNorm, epsilon: c.rmsEpsilon, into: try s.q.reshaped([n * c.heads, c.headDim]))
            try b.rmsNorm(try s.k.reshaped([n * c.kvHeads, c.headDim]), weight: keyNorm, epsilon: c.rmsEpsilon, into: try s.k.reshaped([n * c.kvHeads, c.headDim]))
        }
        try b.rope(q, positions: step.positions, inverseFrequencies: step.frequencies, style: step.ropeStyle)
        try b.rope(k, positions: step.positions, inverseFrequencies: step.frequencies, style: step.ropeStyle)
        var keys = try s.k.reshaped([1, n, c.kvHeads, c.headDim]), values = try s.v.reshaped([1, n, c.kvHeads, c.headDim])
        if let cache = step.cache {
            try b.copyElements(s.k, from: 0, to: cache.keys[index], at: step.start * c.kvDim, count: n * c.kvDim)
            try b.copyElements(s.v, from: 0, to: cache.values[index], at: step.start * c.kvDim, count: n * c.kvDim)
            keys = cache.keys[index]
            values = cache.values[index]
        }
        try b.attention(try s.q.reshaped([1, n, c.heads, c.headDim]), keys, values, layout: step.layout,
                        options: step.options, into: try s.context.reshaped([1, n, c.heads, c.headDim]), logSumExp: nil)
        try observer?(output.name, s.context)
        try output.apply(s.context, into: s.residual, on: b)
        try b.add(x, s.residual, into: x)
        try b.rmsNorm(x, weight: ffnNorm, epsilon: c.rmsEpsilon, into: s.normed)
        try observer?(gate.name, s.normed)
        try gate.apply(s.normed, into: s.gate, on: b)
        try up.apply(s.normed, into: s.up, on: b)
        try b.gatedActivation(s.gate, s.up, c.architecture.gate, into: s.gate)
        try observer?(down.name, s.gate)
        try down.apply(s.gate, into: s.residual, on: b)
        try b.add(x, s.residual, into: x)
    }
}

/// Keys and values of the tokens seen so far, one pair of `[1, capacity, kvHeads, headDim]` tensors per block.
public final class KVCache: @unchecked Sendable {
    // @unchecked: one generation loop owns a cache at a time.
    let keys: [Tensor], values: [Tensor]
    public let capacity: Int
    public internal(set) var count = 0

    init(config c: DecoderConfig, capacity: Int, on backend: any Backend) throws {
        self.capacity = capacity
        keys = try (0..<c.layers).map { try backend.allocate([1, capacity, c.kvHeads, c.headDim], name: "kv.\($0).keys") }
        values = try (0..<c.layers).map { try backend.allocate([1, capacity, c.kvHeads, c.headDim], name: "kv.\($0).values") }
    }
}
