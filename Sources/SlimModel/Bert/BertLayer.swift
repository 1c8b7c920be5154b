import SlimCore

/// One encoder block of BERT (post-norm):
/// `h = LN(x + O(attention(Q x, K x, V x)))`, `out = LN(h + W₂ GELU(W₁ h))`.
struct BertLayer: Sendable {
    let query: Linear, key: Linear, value: Linear, output: Linear
    let attentionNorm: LayerNormWeights
    let intermediate: Linear, down: Linear
    let outputNorm: LayerNormWeights

    /// Attention heads this layer keeps and its MLP width: fewer than the
    /// config's after structured pruning.
    let heads: Int, intermediateSize: Int

    init(index: Int, prefix: String, config c: BertConfig, from store: some WeightStore, on backend: any Backend,
         quantization: LinearQuantization?) throws {
        let p = "\(prefix)encoder.layer.\(index)."
        let h = c.hiddenSize, q = quantization
        heads = c.heads(inLayer: index)
        intermediateSize = try Self.intermediateSize(p + "intermediate.dense.weight", layer: index, config: c, store: store)
        let attention = heads * c.headDim
        query = try Linear(p + "attention.self.query", in: h, out: attention, from: store, on: backend, quantization: q)
        key = try Linear(p + "attention.self.key", in: h, out: attention, from: store, on: backend, quantization: q)
        value = try Linear(p + "attention.self.value", in: h, out: attention, from: store, on: backend, quantization: q)
        output = try Linear(p + "attention.output.dense", in: attention, out: h, from: store, on: backend, quantization: q)
        attentionNorm = try LayerNormWeights(p + "attention.output.LayerNorm", width: h, epsilon: c.layerNormEpsilon,
                                             from: store, on: backend)
        intermediate = try Linear(p + "intermediate.dense", in: h, out: intermediateSize, from: store, on: backend, quantization: q)
        down = try Linear(p + "output.dense", in: intermediateSize, out: h, from: store, on: backend, quantization: q)
        outputNorm = try LayerNormWeights(p + "output.LayerNorm", width: h, epsilon: c.layerNormEpsilon, from: store, on: backend)
    }

    /// The MLP width of a layer: `slim_intermediate_sizes` when the config lists
    /// it, else read from the weight (structured pruning narrows it), at most the
    /// config's `intermediate_size`. Linear then checks every tensor against it.
    private static func intermediateSize(_ weight: String, layer: Int, config c: BertConfig, store: some WeightStore) throws -> Int {
        if let sizes = c.intermediateSizes { return sizes[layer] }
        guard store.contains(weight) else { return c.intermediateSize }  // Linear reports the missing tensor
        let shape = try store.shape(of: weight)
        guard shape.count == 2, (1...c.intermediateSize).contains(shape[0]) else {
            throw SlimError.malformedFile(path: store.origin, detail: "tensor '\(weight)' is \(shape) but the config implies [n ≤ \(c.intermediateSize), \(c.hiddenSize)]")
        }
        return shape[0]
    }

    /// Updates `x` (`[batch·seq, hidden]`) in place, using `s` for intermediates.
    func forward(_ x: Tensor, _ s: BertScratch, on backend: any Backend, observer: LinearInputObserver? = nil) throws {
        // A calibration run sees each linear layer's input (Q, K and V share one).
        try observer?(query.name, x)
        try observer?(key.name, x)
        try observer?(value.name, x)
        let a = try s.attention(heads: heads), wide = try s.wide(intermediateSize)
        try query.apply(x, into: a.q, on: backend)
        try key.apply(x, into: a.k, on: backend)
        try value.apply(x, into: a.v, on: backend)
        try backend.attention(try a.q.reshaped(a.heads), try a.k.reshaped(a.heads), try a.v.reshaped(a.heads),
                              layout: s.layout, options: s.attentionOptions, into: try a.context.reshaped(a.heads),
                              logSumExp: nil)
        try observer?(output.name, a.context)
        try output.apply(a.context, into: s.sum, on: backend)
        try backend.add(s.sum, x, into: s.sum)
        try attentionNorm.apply(s.sum, into: x, on: backend)
        try observer?(intermediate.name, x)
        try intermediate.apply(x, into: wide, epilogue: .gelu, on: backend)
        try observer?(down.name, wide)
        try down.apply(wide, into: s.sum, on: backend)
        try backend.add(s.sum, x, into: s.sum)
        try outputNorm.apply(s.sum, into: x, on: backend)
    }
}

/// The activations one forward pass needs, allocated once per batch shape
/// (and, in a pruned model, once per distinct layer width).
final class BertScratch {
    /// Q, K, V and the attention context of a layer with some number of heads.
    struct Attention {
        let q: Tensor, k: Tensor, v: Tensor, context: Tensor
        /// `[batch, seq, heads, headDim]`: how attention sees a `[batch·seq, heads·headDim]` activation.
        let heads: Shape
    }

    /// `[batch·seq, hidden]`: a layer's sum before each layer norm.
    let sum: Tensor
    let layout: BlockSparseLayout
    let attentionOptions: AttentionOptions
    private let batch: Int, sequence: Int, headDim: Int
    private let backend: any Backend
    private var attentions: [Int: Attention] = [:], wides: [Int: Tensor] = [:]

    init(batch: Int, sequence: Int, config c: BertConfig, keyLengths: Tensor, on backend: any Backend) throws {
        self.batch = batch
        self.sequence = sequence
        self.backend = backend
        headDim = c.headDim
        sum = try backend.allocate([batch * sequence, c.hiddenSize], name: "sum")
        // One block per query row group; short sentences need a single block.
        let block = min(64, max(16, (sequence + 15) / 16 * 16))
        layout = try BlockSparseLayout.dense(queryLength: sequence, keyLength: sequence, blockSize: block)
        attentionOptions = AttentionOptions(scale: 1 / Float(c.headDim).squareRoot(), keyLengths: keyLengths)
    }

    func attention(heads: Int) throws -> Attention {
        if let a = attentions[heads] { return a }
        let shape: Shape = [batch * sequence, heads * headDim]
        let a = Attention(q: try backend.allocate(shape, name: "query"), k: try backend.allocate(shape, name: "key"),
                          v: try backend.allocate(shape, name: "value"), context: try backend.allocate(shape, name: "context"),
                          heads: [batch, sequence, heads, headDim])
        attentions[heads] = a
        return a
    }

    func wide(_ width: Int) throws -> Tensor {
        if let t = wides[width] { return t }
        let t = try backend.allocate([batch * sequence, width], name: "intermediate")
        wides[width] = t
        return t
    }
}

/// Called with a linear layer's weight name and its input `[tokens, inFeatures]` before the layer runs.
public typealias LinearInputObserver = (String, Tensor) throws -> Void
