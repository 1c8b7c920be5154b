import SlimCore

extension BertEncoder {
    /// Layer `index`'s attention logits for its input `x` (`[batch·seq, hidden]`,
    /// what the observer of ``hiddenStates(_:observer:)`` sees for the layer's
    /// query weight): `[batch, heads, seq, seq]` as ``Backend/attentionScores(_:_:layout:options:into:)``
    /// writes them, padded keys masked. Q and K come from the layer's own
    /// (possibly quantized) linear layers, as its forward computes them.
    public func attentionScores(layer index: Int, input x: Tensor, batch: EncoderBatch) throws -> Tensor {
        guard layers.indices.contains(index) else {
            throw SlimError.invalidArgument("attentionScores: layer \(index) is outside the encoder's 0..<\(layers.count)")
        }
        let layer = layers[index], rows = batch.batch * batch.sequence, d = config.headDim
        guard x.shape == [rows, config.hiddenSize] else {
            throw SlimError.shapeMismatch(op: "attentionScores", detail: "layer input \(x.label) must be [\(rows), \(config.hiddenSize)]")
        }
        let heads: Shape = [batch.batch, batch.sequence, layer.heads, d]
        let q = try backend.allocate([rows, layer.heads * d], name: "teacher query")
        let k = try backend.allocate([rows, layer.heads * d], name: "teacher key")
        try layer.query.apply(x, into: q, on: backend)
        try layer.key.apply(x, into: k, on: backend)
        // Dense: the block size changes how the work is cut, not which keys a row sees.
        let layout = try BlockSparseLayout.dense(queryLength: batch.sequence, keyLength: batch.sequence,
                                                 blockSize: min(64, max(16, (batch.sequence + 15) / 16 * 16)))
        let keyLengths = try backend.tensor(batch.lengths.map { Int32($0) }, shape: [batch.batch], dtype: .i32, name: "key lengths")
        let scores = try backend.allocate([batch.batch, layer.heads, batch.sequence, batch.sequence], name: "teacher attention scores \(index)")
        try backend.attentionScores(try q.reshaped(heads), try k.reshaped(heads), layout: layout,
                                    options: AttentionOptions(scale: 1 / Float(d).squareRoot(), keyLengths: keyLengths), into: scores)
        return scores
    }
}
