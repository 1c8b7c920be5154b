import SlimCore

/// One encoder block of BERT (post-norm):
/// `h = LN(x + O(attention(Q x, K x, V x)))`, `out = LN(h + W₂ GELU(W₁ h))`.
struct BertLayer: Sendable {
    let query: Linear, key: Linear, value: Linear, output: Linear
    let attentionNorm: LayerNormWeights
    let intermediate: Linear, down: Linear
    let outputNorm: LayerNormWeights

    init(index: Int, prefix: String, config c: BertConfig, from store: some WeightStore, on backend: any Backend,
         quantization: LinearQuantization?) throws {
        let p = "\(prefix)encoder.layer.\(index)."
        let h = c.hiddenSize, q = quantization
        query = try Linear(p + "attention.self.query", in: h, out: h, from: store, on: backend, quantization: q)
        key = try Linear(p + "attention.self.key", in: h, out: h, from: store, on: backend, quantization: q)
        value = try Linear(p + "attention.self.value", in: h, out: h, from: store, on: backend, quantization: q)
        output = try Linear(p + "attention.output.dense", in: h, out: h, from: store, on: backend, quantization: q)
        attentionNorm = try LayerNormWeights(p + "attention.output.LayerNorm", width: h, epsilon: c.layerNormEpsilon,
                                             from: store, on: backend)
        intermediate = try Linear(p + "intermediate.dense", in: h, out: c.intermediateSize, from: store, on: backend, quantization: q)
        down = try Linear(p + "output.dense", in: c.intermediateSize, out: h, from: store, on: backend, quantization: q)
        outputNorm = try LayerNormWeights(p + "output.LayerNorm", width: h, epsilon: c.layerNormEpsilon, from: store, on: backend)
    }

    /// Updates `x` (`[batch·seq, hidden]`) in place, using `s` for intermediates.
    func forward(_ x: Tensor, _ s: BertScratch, on backend: any Backend, observer: LinearInputObserver? = nil) throws {
        // A calibration run sees each linear layer's input (Q, K and V share one).
        try observer?(query.name, x)
        try observer?(key.name, x)
        try observer?(value.name, x)
        try query.apply(x, into: s.q, on: backend)
        try key.apply(x, into: s.k, on: backend)
        try value.apply(x, into: s.v, on: backend)
        try backend.attention(try s.q.reshaped(s.heads), try s.k.reshaped(s.heads), try s.v.reshaped(s.heads),
                              layout: s.layout, options: s.attentionOptions, into: try s.context.reshaped(s.heads),
                              logSumExp: nil)
        try observer?(output.name, s.context)
        try output.apply(s.context, into: s.q, on: backend)
        try backend.add(s.q, x, into: s.q)
        try attentionNorm.apply(s.q, into: x, on: backend)
        try observer?(intermediate.name, x)
        try intermediate.apply(x, into: s.wide, epilogue: .gelu, on: backend)
        try observer?(down.name, s.wide)
        try down.apply(s.wide, into: s.q, on: backend)
        try backend.add(s.q, x, into: s.q)
        try outputNorm.apply(s.q, into: x, on: backend)
    }
}

/// The activations one forward pass needs, allocated once per batch shape.
struct BertScratch {
    let q: Tensor, k: Tensor, v: Tensor, context: Tensor, wide: Tensor
    /// `[batch, seq, heads, headDim]`: how attention sees a `[batch·seq, hidden]` activation.
    let heads: Shape
    let layout: BlockSparseLayout
    let attentionOptions: AttentionOptions

    init(batch: Int, sequence: Int, config c: BertConfig, keyLengths: Tensor, on backend: any Backend) throws {
        let rows = batch * sequence
        q = try backend.allocate([rows, c.hiddenSize], name: "query")
        k = try backend.allocate([rows, c.hiddenSize], name: "key")
        v = try backend.allocate([rows, c.hiddenSize], name: "value")
        context = try backend.allocate([rows, c.hiddenSize], name: "context")
        wide = try backend.allocate([rows, c.intermediateSize], name: "intermediate")
        heads = [batch, sequence, c.heads, c.headDim]
        // One block per query row group; short sentences need a single block.
        let block = min(64, max(16, (sequence + 15) / 16 * 16))
        layout = try BlockSparseLayout.dense(queryLength: sequence, keyLength: sequence, blockSize: block)
        attentionOptions = AttentionOptions(scale: 1 / Float(c.headDim).squareRoot(), keyLengths: keyLengths)
    }
}

/// Called with a linear layer's weight name and its input `[tokens, inFeatures]` before the layer runs.
public typealias LinearInputObserver = (String, Tensor) throws -> Void
