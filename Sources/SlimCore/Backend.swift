/// The operator protocol: everything Slim computes goes through one of these
/// methods, and each backend (CPU, OpenCL) implements all of them with the same
/// results within the tolerances the conformance suite states.
///
/// Conventions, shared by every op:
/// - Outputs are passed in (`into:`), allocated by the caller on the same
///   backend, so a model can reuse its buffers; no op allocates behind the
///   caller's back except where it returns a new tensor.
/// - Every operand must live on this backend (`SlimError.wrongBackend`
///   otherwise), and every shape is checked before any work starts.
/// - Ops are enqueued in order; ``download(_:into:)`` and ``synchronize()``
///   wait for them.
/// - An op a backend cannot run throws `SlimError.unsupported`; nothing falls
///   back silently to another backend.
public protocol Backend: AnyObject, Sendable {
    var id: BackendID { get }
    /// Estimated fp32 peak of the device in GFLOP/s, for "% of peak" in benchmarks.
    var peakGFLOPS: Double { get }

    // MARK: Memory
    func allocate(_ shape: Shape, dtype: DType, name: String) throws -> Tensor
    /// Copies host bytes into `tensor`; `bytes.count` must equal its byte count.
    func upload(_ bytes: UnsafeRawBufferPointer, to tensor: Tensor) throws
    /// Copies `tensor` into host memory after every op queued before it has finished.
    func download(_ tensor: Tensor, into bytes: UnsafeMutableRawBufferPointer) throws
    /// Copies one tensor into another of the same byte count on this backend.
    func copy(_ source: Tensor, to destination: Tensor) throws
    /// Copies `count` elements of `source` starting at element `from` into
    /// `destination` at element `to` (rows into a KV cache, a slice of rows out).
    func copyElements(_ source: Tensor, from: Int, to destination: Tensor, at to: Int, count: Int) throws
    /// Waits until every queued op has finished.
    func synchronize() throws

    // MARK: Linear algebra
    /// `C = epilogue(alpha · op(A) · op(B) + beta · C + bias)`; see ``GemmOptions`` and ``GemmShape``.
    func gemm(_ a: Tensor, _ b: Tensor, into c: Tensor, options: GemmOptions) throws
    /// `Y = X · Wᵀ (+ bias)` with `W` in a compressed format, never expanded in memory.
    func quantizedMatmul(_ x: Tensor, _ w: QuantizedTensor, bias: Tensor?, into y: Tensor,
                         activations: ActivationPrecision) throws
    /// Quantizes an fp32 `[N, K]` weight by round-to-nearest.
    func quantize(_ w: Tensor, format: QuantFormat) throws -> QuantizedTensor
    func dequantize(_ w: QuantizedTensor, into out: Tensor) throws

    // MARK: Elementwise
    /// `out = a + b`, `b` as large as `a` or repeating over its leading dimensions.
    func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws
    /// `out = a ∘ b`, with the broadcasting of ``add(_:_:into:)``.
    func mul(_ a: Tensor, _ b: Tensor, into out: Tensor) throws
    /// `out = alpha · x`.
    func scale(_ x: Tensor, by alpha: Float, into out: Tensor) throws
    /// The exact GELU, `x · Φ(x)`.
    func gelu(_ x: Tensor, into out: Tensor) throws
    /// `dx = dy · GELU'(x)`.
    func geluBackward(_ x: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws

    // MARK: Normalisation (over the last dimension)
    func softmaxRows(_ x: Tensor, into out: Tensor) throws
    /// `dx = y ∘ (dy − rowsum(dy ∘ y))` from the softmax output `y`.
    func softmaxRowsBackward(_ y: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws
    /// `out = (x − mean) / sqrt(var + eps) · gamma + beta`, optionally saving the
    /// per-row mean and reciprocal standard deviation for the backward pass.
    func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float, into out: Tensor,
                   saving stats: NormStatistics?) throws
    /// `dx`, `dGamma`, `dBeta` from the statistics the forward saved; all three
    /// are written (not accumulated into).
    func layerNormBackward(_ x: Tensor, gamma: Tensor, stats: NormStatistics, gradOutput dy: Tensor,
                           into grads: LayerNormGradients) throws
    /// `out = x / sqrt(mean(x²) + eps) · weight` (Llama's RMSNorm).
    func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float, into out: Tensor) throws

    // MARK: Embeddings and positions
    /// `out[i] = table[ids[i]]`, ids i32. An id outside the table gives a row of
    /// NaN on every backend (never a read outside it); callers validate ids first.
    func embedding(_ ids: Tensor, table: Tensor, into out: Tensor) throws
    /// `out = activation(gate) · up`, a gated MLP's product (``GateActivation``:
    /// SiLU for Llama's SwiGLU, GELU-tanh for Gemma). NaN in either operand
    /// gives NaN; a large finite gate never does.
    func gatedActivation(_ gate: Tensor, _ up: Tensor, _ activation: GateActivation, into out: Tensor) throws
    /// Scatter-adds `dy` rows into `gradTable` at `ids`, adding to what the table
    /// already holds, in id order for each element (deterministic, no atomics).
    /// A row of `dy` whose id lies outside the table adds nothing and writes nothing.
    func embeddingBackward(_ ids: Tensor, gradOutput dy: Tensor, into gradTable: Tensor) throws
    /// Rotary position embedding in place on `[tokens, heads, headDim]`: pair i
    /// of the first `2 · pairs` features of each head turns by the angle
    /// `Float(position) · inverseFrequencies[i]`, multiplied in fp32 as
    /// `transformers` does, then accurate cos and sin; the other features are
    /// untouched. `positions` holds one i32 per token, `inverseFrequencies` is
    /// f32 `[pairs]` (``RotaryFrequencies``).
    func rope(_ x: Tensor, positions: Tensor, inverseFrequencies: Tensor, style: RopeStyle) throws

    // MARK: Reductions
    /// Reduces over the last dimension: `out` has one element per row. The
    /// maximum skips NaN elements (IEEE maxNum, OpenCL's `fmax`).
    func reduceRows(_ x: Tensor, _ reduction: Reduction, into out: Tensor) throws

    // MARK: Attention
    /// `O = softmax(Q·Kᵀ·scale + mask)·V` over the kept blocks of `layout`
    /// (shapes and masking on ``AttentionShape``), writing each row's
    /// log-sum-exp when `logSumExp` is given (the backward pass needs it).
    func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                   into o: Tensor, logSumExp: Tensor?) throws
    func attentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, output o: Tensor, logSumExp: Tensor,
                           gradOutput dO: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                           into grads: AttentionGradients) throws
    /// The attention logits themselves: `scores[b, h, i, j] = scale · Q[b, i, h]·K[b, j, h / groupSize]`
    /// (`[batch, heads, queryLength, keyLength]`) for every key query `i` sees under
    /// the visibility rules of ``AttentionShape`` (kept blocks, key lengths,
    /// causal, window), and ``attentionScoreMask`` (−1e30) for every other key,
    /// so a softmax over a row is the attention distribution, masked keys at
    /// exactly 0. Every element is written. For losses on that distribution.
    func attentionScores(_ q: Tensor, _ k: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                         into scores: Tensor) throws
    /// The backward of ``attentionScores(_:_:layout:options:into:)``, **added** to
    /// what `dq` and `dk` hold (the student's attention backward writes them
    /// first): `dQ[b,i,h] += scale · Σ_j dS[b,h,i,j] · K[b,j,kvh]`,
    /// `dK[b,j,kvh] += scale · Σ_{h in kvh's group} Σ_i dS[b,h,i,j] · Q[b,i,h]`,
    /// summing only over the pairs the forward saw: `dS` at masked entries is
    /// ignored, whatever it holds. Deterministic, no atomics.
    func attentionScoresBackward(_ q: Tensor, _ k: Tensor, gradScores dS: Tensor, layout: BlockSparseLayout,
                                 options: AttentionOptions, accumulatingInto dq: Tensor, dk: Tensor) throws

    // MARK: Optimizer
    /// One AdamW update of `param` in place, its moments in `state`: the gradient
    /// times `gradientScale`, `param −= lr·wd·param`, then the bias-corrected Adam step.
    func adamW(_ param: Tensor, gradient: Tensor, state: AdamWState, step: AdamWStep) throws

    // MARK: Quantization-aware training
    /// `out = ŵ`, the fake-quantized weight of `grid` (``FakeQuantGrid``): what
    /// quantizing `w` with these scales (and zero points) and dequantizing gives.
    func fakeQuantize(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, into out: Tensor) throws
    /// The straight-through backward of ``fakeQuantize(_:scales:zeros:grid:into:)``:
    /// `dw = dy` inside the grid and 0 outside (written, not accumulated), and
    /// when given, `scaleGradient` (one per group, written) = LSQ's scale gradient.
    func fakeQuantizeBackward(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, gradOutput dy: Tensor,
                              into dw: Tensor, scaleGradient: Tensor?) throws

    // MARK: Losses (row kernels; the losses are composed in Losses.swift)
    /// Per row of `logits` softened to `z = logits / temperature` with `p = softmax(z)`:
    /// against teacher logits (`q = softmax(teacher / temperature)`) writes
    /// `loss[r] = KL(q ‖ p)` and `gradient = gradientScale · (p − q)`; against
    /// labels writes `loss[r] = −log p[label]` and `gradient = gradientScale · (p − onehot)`.
    /// The gradient is with respect to `z`; pass `gradient: nil` for the loss alone.
    func softmaxLossRows(_ logits: Tensor, target: SoftmaxTarget, temperature: Float, loss: Tensor,
                         gradient: Tensor?, gradientScale: Float) throws
    /// `cosine[r] = a_r·b_r / (‖a_r‖ ‖b_r‖)` (each norm at least ``cosineNormFloor``), and
    /// when given, `gradA = gradientScale · ∂cosine_r/∂a_r` and likewise `gradB`.
    func cosineSimilarityRows(_ a: Tensor, _ b: Tensor, into cosine: Tensor, gradA: Tensor?, gradB: Tensor?,
                              gradientScale: Float) throws
}

// Ops whose issues have not landed yet: a backend that does not implement one
// says so, by name, instead of computing something else.
extension Backend {
    func notYet(_ op: String) -> SlimError {
        .unsupported(op: op, backend: id.kind.rawValue, reason: "not implemented yet")
    }
    public func quantizedMatmul(_ x: Tensor, _ w: QuantizedTensor, bias: Tensor?, into y: Tensor,
                                activations: ActivationPrecision) throws { throw notYet("quantizedMatmul") }
    public func quantize(_ w: Tensor, format: QuantFormat) throws -> QuantizedTensor { throw notYet("quantize") }
    public func dequantize(_ w: QuantizedTensor, into out: Tensor) throws { throw notYet("dequantize") }
    public func geluBackward(_ x: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws { throw notYet("geluBackward") }
    public func softmaxRowsBackward(_ y: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws {
        throw notYet("softmaxRowsBackward")
    }
    public func layerNormBackward(_ x: Tensor, gamma: Tensor, stats: NormStatistics, gradOutput dy: Tensor,
                                  into grads: LayerNormGradients) throws { throw notYet("layerNormBackward") }
    public func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float, into out: Tensor) throws { throw notYet("rmsNorm") }
    public func embeddingBackward(_ ids: Tensor, gradOutput dy: Tensor, into gradTable: Tensor) throws {
        throw notYet("embeddingBackward")
    }
    public func rope(_ x: Tensor, positions: Tensor, inverseFrequencies: Tensor, style: RopeStyle) throws { throw notYet("rope") }
    public func gatedActivation(_ gate: Tensor, _ up: Tensor, _ activation: GateActivation, into out: Tensor) throws {
        throw notYet("gatedActivation")
    }
    public func reduceRows(_ x: Tensor, _ reduction: Reduction, into out: Tensor) throws { throw notYet("reduceRows") }
    public func attentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, output o: Tensor, logSumExp: Tensor,
                                  gradOutput dO: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                                  into grads: AttentionGradients) throws { throw notYet("attentionBackward") }
    public func attentionScores(_ q: Tensor, _ k: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                                into scores: Tensor) throws { throw notYet("attentionScores") }
    public func attentionScoresBackward(_ q: Tensor, _ k: Tensor, gradScores dS: Tensor, layout: BlockSparseLayout,
                                        options: AttentionOptions, accumulatingInto dq: Tensor, dk: Tensor) throws {
        throw notYet("attentionScoresBackward")
    }
    public func adamW(_ param: Tensor, gradient: Tensor, state: AdamWState, step: AdamWStep) throws {
        throw notYet("adamW")
    }
    public func softmaxLossRows(_ logits: Tensor, target: SoftmaxTarget, temperature: Float, loss: Tensor,
                                gradient: Tensor?, gradientScale: Float) throws { throw notYet("softmaxLossRows") }
    public func fakeQuantize(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, into out: Tensor) throws {
        throw notYet("fakeQuantize")
    }
    public func fakeQuantizeBackward(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, gradOutput dy: Tensor,
                                     into dw: Tensor, scaleGradient: Tensor?) throws { throw notYet("fakeQuantizeBackward") }
    public func cosineSimilarityRows(_ a: Tensor, _ b: Tensor, into cosine: Tensor, gradA: Tensor?, gradB: Tensor?,
                                     gradientScale: Float) throws { throw notYet("cosineSimilarityRows") }
}
