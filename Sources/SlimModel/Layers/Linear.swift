import SlimCore

/// `y = x·Wᵀ + b` with `W` stored `[out, in]` as PyTorch stores it, either in
/// fp32 or in a quantized format that the quantized GEMM runs without expanding.
public struct Linear: Sendable {
    public enum Weights: Sendable {
        case dense(Tensor)
        case quantized(QuantizedTensor, activations: ActivationPrecision)
        /// W ≈ A·B: A `[out, rank]`, B `[rank, in]`, run as two GEMMs.
        case lowRank(a: Tensor, b: Tensor)
        /// Low rank with both factors quantized (low rank, then quantize), run as two quantized GEMMs.
        case quantizedLowRank(a: QuantizedTensor, b: QuantizedTensor, activations: ActivationPrecision)
    }

    public let weights: Weights
    public let bias: Tensor?
    public let inFeatures: Int, outFeatures: Int
    /// The weight's name in its file (`….weight`), for calibration and reports.
    public let name: String
    /// Multipliers of the input channels applied before the product (AWQ's 1/s); nil: none.
    public private(set) var inputScale: Tensor?
    /// Input columns gathered before the product, as runs (an imported act-order weight whose
    /// columns were sorted into group order); nil: the input as it is.
    public private(set) var inputGather: InputGather?

    public init(weights: Weights, bias: Tensor? = nil, in inFeatures: Int, out outFeatures: Int, name: String = "") {
        self.name = name
        self.weights = weights
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Reads `prefix.weight` (and `prefix.bias` when `hasBias`) from `store`,
    /// quantizing the weight to `format` on `backend` when one is given.
    /// A weight the store keeps packed runs with `quantization`'s activations,
    /// else with `packedActivations`.
    public init(_ prefix: String, in inFeatures: Int, out outFeatures: Int, from store: some WeightStore,
                on backend: any Backend, quantization: LinearQuantization? = nil, hasBias: Bool = true,
                packedActivations: ActivationPrecision = .f32) throws {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        name = prefix + ".weight"
        if let (a, b) = try store.packedFactors(prefix + ".weight") {
            guard a.rows == outFeatures, b.columns == inFeatures, a.columns == b.rows else {
                throw SlimError.malformedFile(path: store.origin, detail: "packed low-rank factors of '\(prefix).weight' are \(a.rows)x\(a.columns) and \(b.rows)x\(b.columns), not a product of \(outFeatures)x\(inFeatures)")
            }
            weights = .quantizedLowRank(
                a: try backend.upload(a.encoded, rows: a.rows, columns: a.columns, format: a.format, name: prefix + ".weight.a"),
                b: try backend.upload(b.encoded, rows: b.rows, columns: b.columns, format: b.format, name: prefix + ".weight.b"),
                activations: (quantization?.activations ?? packedActivations).fitting(b.format, columns: b.columns))
            bias = hasBias ? try store.upload(prefix + ".bias", shape: [outFeatures], to: backend) : nil
            return
        }
        if let f = try store.factors(prefix + ".weight") {
            guard f.a.count == outFeatures * f.rank, f.b.count == f.rank * inFeatures else {
                throw SlimError.malformedFile(path: store.origin, detail: "low-rank factors of '\(prefix).weight' do not make \(outFeatures)x\(inFeatures)")
            }
            weights = .lowRank(a: try backend.tensor(f.a, shape: [outFeatures, f.rank], name: prefix + ".weight.a"),
                               b: try backend.tensor(f.b, shape: [f.rank, inFeatures], name: prefix + ".weight.b"))
            bias = hasBias ? try store.upload(prefix + ".bias", shape: [outFeatures], to: backend) : nil
            return
        }
        if let p = try store.packed(prefix + ".weight") {
            // Stored compressed: uploaded as it is, never expanded.
            guard p.rows == outFeatures, p.columns == inFeatures else {
                throw SlimError.malformedFile(path: store.origin, detail: "packed '\(prefix).weight' is \(p.rows)x\(p.columns) but the config implies \(outFeatures)x\(inFeatures)")
            }
            let q = try backend.upload(p.encoded, rows: p.rows, columns: p.columns, format: p.format, name: prefix + ".weight")
            weights = .quantized(q, activations: (quantization?.activations ?? packedActivations).fitting(p.format, columns: inFeatures))
            if let order = try store.inputOrder(prefix + ".weight") {
                guard order.count == inFeatures else {
                    throw SlimError.malformedFile(path: store.origin, detail: "'\(prefix).weight' orders \(order.count) inputs, not \(inFeatures)")
                }
                inputGather = InputGather(order)
            }
            if let s = try store.inputScale(prefix + ".weight") {
                guard s.count == inFeatures else {
                    throw SlimError.malformedFile(path: store.origin, detail: "'\(prefix).weight.input_scale' has \(s.count) values for \(inFeatures) inputs")
                }
                inputScale = try backend.tensor(s, shape: [inFeatures], name: prefix + ".weight.input_scale")
            }
            bias = hasBias ? try store.upload(prefix + ".bias", shape: [outFeatures], to: backend) : nil
            return
        }
        let w = try store.upload(prefix + ".weight", shape: [outFeatures, inFeatures], to: backend)
        if let q = quantization {
            weights = .quantized(try backend.quantize(w, format: q.format), activations: q.activations.fitting(q.format, columns: inFeatures))
        } else {
            weights = .dense(w)
        }
        bias = hasBias ? try store.upload(prefix + ".bias", shape: [outFeatures], to: backend) : nil
    }

    /// `y = epilogue(x·Wᵀ + b)` over the rows of `x`.
    public func apply(_ x: Tensor, into y: Tensor, epilogue: GemmOptions.Epilogue = .none, on backend: any Backend) throws {
        var x = x
        if let inputGather { x = try inputGather.apply(x, on: backend, name: name) }
        if let inputScale {
            let scaled = try backend.allocate(x.shape, name: name + " scaled input")
            try backend.mul(x, inputScale, into: scaled)
            x = scaled
        }
        switch weights {
        case let .dense(w):
            try backend.gemm(x, w, into: y, options: GemmOptions(transposeB: true, bias: bias, epilogue: epilogue))
        case let .quantized(w, activations):
            try backend.quantizedMatmul(x, w, bias: bias, into: y, activations: activations)
            if epilogue == .gelu { try backend.gelu(y, into: y) }
        case let .lowRank(a, b):
            let inner = try backend.allocate([x.shape.outerCount, b.shape[0]], name: name + " low-rank inner")
            try backend.gemm(x, b, into: inner, options: GemmOptions(transposeB: true))
            try backend.gemm(inner, a, into: y, options: GemmOptions(transposeB: true, bias: bias, epilogue: epilogue))
        case let .quantizedLowRank(a, b, activations):
            let inner = try backend.allocate([x.shape.outerCount, b.rows], name: name + " low-rank inner")
            try backend.quantizedMatmul(x, b, bias: nil, into: inner, activations: activations)
            try backend.quantizedMatmul(inner, a, bias: bias, into: y, activations: activations)
            if epilogue == .gelu { try backend.gelu(y, into: y) }
        }
    }

    /// Bytes the weights occupy on the device (bias included).
    public var byteCount: Int {
        let w = switch weights {
        case let .dense(t): t.byteCount
        case let .quantized(q, _): q.byteCount
        case let .lowRank(a, b): a.byteCount + b.byteCount
        case let .quantizedLowRank(a, b, _): a.byteCount + b.byteCount
        }
        return w + (bias?.byteCount ?? 0)
    }
}

/// How a model's linear layers are quantized when it is loaded.
public struct LinearQuantization: Sendable, Equatable {
    public var format: QuantFormat
    public var activations: ActivationPrecision
    public init(format: QuantFormat, activations: ActivationPrecision = .f32) {
        self.format = format
        self.activations = activations
    }
}

/// The scale and shift of a layer norm.
public struct LayerNormWeights: Sendable {
    public let gamma: Tensor, beta: Tensor, epsilon: Float

    public init(_ prefix: String, width: Int, epsilon: Float, from store: some WeightStore, on backend: any Backend) throws {
        gamma = try store.upload(prefix + ".weight", shape: [width], to: backend)
        beta = try store.upload(prefix + ".bias", shape: [width], to: backend)
        self.epsilon = epsilon
    }

    public func apply(_ x: Tensor, into y: Tensor, on backend: any Backend) throws {
        try backend.layerNorm(x, gamma: gamma, beta: beta, epsilon: epsilon, into: y, saving: nil)
    }
}
