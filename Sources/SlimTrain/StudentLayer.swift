import SlimCore
import SlimModel

/// One trainable post-norm BERT block:
/// `h = LN₁(x + O·attention(Q x, K x, V x))`, `out = LN₂(h + W₂ GELU(W₁ h))`,
/// every linear layer `y = x·Wᵀ + b` with `W` stored `[out, in]`.
struct StudentLayer: Sendable {
    struct Dense: Sendable {
        let weight: Parameter, bias: Parameter
        /// Set for quantization-aware training: the forward multiplies by `ŵ`.
        var quant: FakeQuantizedWeight?
        init(weight: Parameter, bias: Parameter) { self.weight = weight; self.bias = bias }

        var forwardWeight: Tensor { quant?.value ?? weight.value }
        /// Where the backward writes `∂loss/∂(forward weight)`.
        var weightGradient: Tensor { quant?.gradient ?? weight.grad }
    }
    var query: Dense, key: Dense, value: Dense, output: Dense, intermediate: Dense, down: Dense
    let attentionNorm: (gamma: Parameter, beta: Parameter), outputNorm: (gamma: Parameter, beta: Parameter)
    let heads: Int, headDim: Int, epsilon: Float

    init(index: Int, config c: BertConfig, make: (String, Shape) throws -> Parameter) throws {
        let p = "encoder.layer.\(index).", h = c.hiddenSize, i = c.intermediateSize
        func dense(_ name: String, _ out: Int, _ inp: Int) throws -> Dense {
            Dense(weight: try make(p + name + ".weight", [out, inp]), bias: try make(p + name + ".bias", [out]))
        }
        query = try dense("attention.self.query", h, h)
        key = try dense("attention.self.key", h, h)
        value = try dense("attention.self.value", h, h)
        output = try dense("attention.output.dense", h, h)
        attentionNorm = (try make(p + "attention.output.LayerNorm.weight", [h]), try make(p + "attention.output.LayerNorm.bias", [h]))
        intermediate = try dense("intermediate.dense", i, h)
        down = try dense("output.dense", h, i)
        outputNorm = (try make(p + "output.LayerNorm.weight", [h]), try make(p + "output.LayerNorm.bias", [h]))
        heads = c.heads
        headDim = c.headDim
        epsilon = c.layerNormEpsilon
    }

    var parameters: [Parameter] {
        [query, key, value, output].flatMap { [$0.weight, $0.bias] } + [attentionNorm.gamma, attentionNorm.beta]
            + [intermediate, down].flatMap { [$0.weight, $0.bias] } + [outputNorm.gamma, outputNorm.beta]
            + denses.compactMap { $0.quant?.learnsScales == true ? $0.quant!.scales : nil }
    }

    /// The six linear layers, in a fixed order.
    var denses: [Dense] { [query, key, value, output, intermediate, down] }

    /// Trains every linear layer through fake quantization, each starting from `initial(weight)`'s scales.
    mutating func quantize(_ format: QuantFormat, learnsScales: Bool, on b: any Backend,
                           initial: (Parameter) throws -> QuantCodec.Encoded) throws {
        for path in [\StudentLayer.query, \.key, \.value, \.output, \.intermediate, \.down] {
            let w = self[keyPath: path].weight
            self[keyPath: path].quant = try FakeQuantizedWeight(latent: w, format: format, initial: try initial(w),
                                                                learnsScales: learnsScales, on: b)
        }
    }

    /// The activations of one forward, kept for the backward.
    struct Tape {
        let input: Tensor, q: Tensor, k: Tensor, v: Tensor, context: Tensor, logSumExp: Tensor
        let attentionSum: Tensor, attentionStats: NormStatistics, hidden: Tensor
        let preActivation: Tensor, activation: Tensor
        let outputSum: Tensor, outputStats: NormStatistics, output: Tensor
        let heads: Shape
    }

    func forward(_ x: Tensor, batch: EncoderBatch, layout: BlockSparseLayout, options: AttentionOptions,
                 on b: any Backend) throws -> Tape {
        let rows = x.shape[0], h = x.shape[1], wide = intermediate.weight.shape[0]
        func t(_ width: Int, _ name: String) throws -> Tensor { try b.allocate([rows, width], name: name) }
        func stats() throws -> NormStatistics {
            NormStatistics(mean: try b.allocate([rows], name: "mean"), rstd: try b.allocate([rows], name: "rstd"))
        }
        for d in denses { try d.quant?.refresh(d.weight, on: b) }
        let heads4: Shape = [batch.batch, batch.sequence, heads, headDim]
        let q = try t(h, "q"), k = try t(h, "k"), v = try t(h, "v"), context = try t(h, "context")
        for (d, y) in [(query, q), (key, k), (value, v)] { try apply(d, x, into: y, on: b) }
        let lse = try b.allocate([batch.batch, heads, batch.sequence], name: "logSumExp")
        try b.attention(try q.reshaped(heads4), try k.reshaped(heads4), try v.reshaped(heads4), layout: layout, options: options,
                        into: try context.reshaped(heads4), logSumExp: lse)
        let attentionSum = try t(h, "attention sum"), hidden = try t(h, "hidden")
        try b.gemm(context, output.forwardWeight, into: attentionSum, options: GemmOptions(transposeB: true, bias: output.bias.value))
        try b.add(attentionSum, x, into: attentionSum)
        let s1 = try stats()
        try b.layerNorm(attentionSum, gamma: attentionNorm.gamma.value, beta: attentionNorm.beta.value, epsilon: epsilon,
                        into: hidden, saving: s1)
        let pre = try t(wide, "pre-activation"), act = try t(wide, "activation")
        try apply(intermediate, hidden, into: pre, on: b)
        try b.gelu(pre, into: act)
        let outputSum = try t(h, "output sum"), out = try t(h, "layer output")
        try apply(down, act, into: outputSum, on: b)
        try b.add(outputSum, hidden, into: outputSum)
        let s2 = try stats()
        try b.layerNorm(outputSum, gamma: outputNorm.gamma.value, beta: outputNorm.beta.value, epsilon: epsilon, into: out, saving: s2)
        return Tape(input: x, q: q, k: k, v: v, context: context, logSumExp: lse, attentionSum: attentionSum, attentionStats: s1,
                    hidden: hidden, preActivation: pre, activation: act, outputSum: outputSum, outputStats: s2, output: out,
                    heads: heads4)
    }

    private func apply(_ d: Dense, _ x: Tensor, into y: Tensor, on b: any Backend) throws {
        try b.gemm(x, d.forwardWeight, into: y, options: GemmOptions(transposeB: true, bias: d.bias.value))
    }

    /// Gradients of `y = x·Wᵀ + b`: `dW = dyᵀ·x`, `db = 1ᵀ·dy`, and `dx (+)= dy·W`
    /// (`accumulate`: added to what `dx` holds).
    private func backward(_ d: Dense, input x: Tensor, gradOutput dy: Tensor, ones: Tensor, dx: Tensor?, accumulate: Bool,
                          on b: any Backend) throws {
        try b.gemm(dy, x, into: d.weightGradient, options: GemmOptions(transposeA: true))
        try d.quant?.backward(d.weight, on: b)
        try b.gemm(ones, dy, into: d.bias.grad, options: GemmOptions())
        if let dx { try b.gemm(dy, d.forwardWeight, into: dx, options: GemmOptions(beta: accumulate ? 1 : 0)) }
    }

    /// Writes this layer's parameter gradients; returns the gradient of its input.
    /// `scoreGradient` (`[batch, heads, seq, seq]`): a loss's gradient with respect
    /// to this layer's attention logits (the attention KL), added into dQ and dK.
    func backward(_ t: Tape, gradOutput dy: Tensor, ones: Tensor, options: AttentionOptions, layout: BlockSparseLayout,
                  scoreGradient: Tensor? = nil, on b: any Backend) throws -> Tensor {
        let rows = dy.shape[0], h = dy.shape[1], wide = t.preActivation.shape[1]
        func g(_ width: Int, _ name: String) throws -> Tensor { try b.allocate([rows, width], name: name) }
        // out = LN₂(outputSum): the sum's gradient reaches both the MLP output and `hidden`.
        let dOutputSum = try g(h, "dOutputSum")
        try b.layerNormBackward(t.outputSum, gamma: outputNorm.gamma.value, stats: t.outputStats, gradOutput: dy,
                                into: LayerNormGradients(dx: dOutputSum, dGamma: outputNorm.gamma.grad, dBeta: outputNorm.beta.grad))
        let dAct = try g(wide, "dActivation"), dPre = try g(wide, "dPreActivation")
        try backward(down, input: t.activation, gradOutput: dOutputSum, ones: ones, dx: dAct, accumulate: false, on: b)
        try b.geluBackward(t.preActivation, gradOutput: dAct, into: dPre)
        let dHidden = try g(h, "dHidden")
        try b.copy(dOutputSum, to: dHidden)
        try backward(intermediate, input: t.hidden, gradOutput: dPre, ones: ones, dx: dHidden, accumulate: true, on: b)
        // hidden = LN₁(attentionSum): the sum's gradient reaches the attention output and the input.
        let dAttentionSum = try g(h, "dAttentionSum")
        try b.layerNormBackward(t.attentionSum, gamma: attentionNorm.gamma.value, stats: t.attentionStats, gradOutput: dHidden,
                                into: LayerNormGradients(dx: dAttentionSum, dGamma: attentionNorm.gamma.grad,
                                                         dBeta: attentionNorm.beta.grad))
        let dContext = try g(h, "dContext")
        try backward(output, input: t.context, gradOutput: dAttentionSum, ones: ones, dx: dContext, accumulate: false, on: b)
        let dq = try g(h, "dq"), dk = try g(h, "dk"), dv = try g(h, "dv")
        let s = t.heads
        try b.attentionBackward(try t.q.reshaped(s), try t.k.reshaped(s), try t.v.reshaped(s), output: try t.context.reshaped(s),
                                logSumExp: t.logSumExp, gradOutput: try dContext.reshaped(s), layout: layout, options: options,
                                into: AttentionGradients(dq: try dq.reshaped(s), dk: try dk.reshaped(s), dv: try dv.reshaped(s)))
        if let scoreGradient {
            try b.attentionScoresBackward(try t.q.reshaped(s), try t.k.reshaped(s), gradScores: scoreGradient, layout: layout,
                                          options: options, accumulatingInto: try dq.reshaped(s), dk: try dk.reshaped(s))
        }
        let dx = try g(h, "dInput")
        try b.copy(dAttentionSum, to: dx)
        for (d, grad) in [(query, dq), (key, dk), (value, dv)] {
            try backward(d, input: t.input, gradOutput: grad, ones: ones, dx: dx, accumulate: true, on: b)
        }
        return dx
    }
}
