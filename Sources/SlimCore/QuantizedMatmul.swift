/// The sizes of one quantized product `Y = X · Wᵀ (+ bias)`, checked once for
/// both backends: `X` is fp32 `[…, K]` (leading dimensions flattened into `M`
/// tokens), `W` a ``QuantizedTensor`` of `[N, K]`, `Y` fp32 with `M · N`
/// elements and `N` innermost, `bias` `N` values.
///
/// ``ActivationPrecision/f32`` is weight-only: `Y` is the product of fp32 `X`
/// with the dequantized weight, within NMSE 1e-7 of its float64 value. The
/// CPU backend on AVX-512 VNNI computes int8 weights with few tokens (below
/// its sgemm threshold) in integers: each row of `X` is carried as 22-bit fixed point with one scale per row,
/// `s = max|x| / (2²¹ − 1)` and `q = round(x / s)`, so each element moves by
/// at most `s / 2 ≈ max|x| · 2⁻²²` (2.4e-7 of the row's largest value), and
/// `y = scale_w · s · Σ q · w` with the integer sum exact (`cpu_i22.h`). The
/// error is relative to the row's largest value, not to each element: for
/// weights unrelated to X, NMSE ≈ (max|x| / rms x)² / (12 · 2⁴²), which is
/// 6e-14 for uniform rows and at most K / 5e13 (8e-11 at K = 4096), since
/// max|x| ≤ √K · rms x. Outliers cost accuracy: with eight values 1000 times
/// the rest at K = 70,001 the conformance test sees 7e-10 (fp32 accumulation:
/// 6e-13). It nears 1e-7 only where values over ~2,300 times the row's rms
/// meet near-zero weights, so that Y hardly holds them.
///
/// ``ActivationPrecision/int8PerRow`` quantizes each row of `X` to int8 with
/// `sx = absmax / 127` and `qx = round(x / sx)` (half away from zero) and
/// multiplies in integers: `y = sx · Σ qx · w`, the integer dot products
/// exact per row (int8 weights: W8A8) or per 32-weight run (the other formats,
/// as llama.cpp and onnxruntime's MatMulNBits accuracy level 4 do).
/// ``ActivationPrecision/int8PerBlock`` does the same per run of 32 columns,
/// each with its own scale rounded to fp16: `y = Σ_runs sx_run · Σ qx · w`
/// (K must be a multiple of 32).
public struct QuantizedMatmulShape: Sendable, Equatable {
    public let m: Int, n: Int, k: Int

    public init(x: Tensor, w: QuantizedTensor, bias: Tensor?, y: Tensor, activations: ActivationPrecision) throws(SlimError) {
        let op = "quantizedMatmul \(w.format)"
        for t in [x, y] + (bias.map { [$0] } ?? []) { try requireF32(t, op: op) }
        guard x.shape.innermost == w.columns else {
            throw .shapeMismatch(op: op, detail: "X \(x.shape) has \(x.shape.innermost) columns but W is \(w.rows)x\(w.columns)")
        }
        let m = x.shape.outerCount
        guard y.elementCount == m * w.rows, y.shape.innermost == w.rows else {
            throw .shapeMismatch(op: op, detail: "Y \(y.shape) must hold \(m)x\(w.rows) with \(w.rows) innermost")
        }
        if let bias, bias.elementCount != w.rows {
            throw .shapeMismatch(op: op, detail: "bias \(bias.shape) must have \(w.rows) elements")
        }
        try QuantizedMatmulShape.checkLayout(w)
        if w.format.isFloat16, activations != .f32 {
            throw .invalidArgument("\(op): a \(w.format) weight multiplies fp32 activations only, not \(activations)")
        }
        if activations == .int8PerBlock, w.columns % 32 != 0 {
            throw .shapeMismatch(op: op, detail: "int8 activations per block of 32 need K a multiple of 32, not \(w.columns)")
        }
        self.m = m
        self.n = w.rows
        self.k = w.columns
    }

    /// Throws unless the tensors of `w` have the sizes and types its format documents.
    public static func checkLayout(_ w: QuantizedTensor) throws(SlimError) {
        try w.format.validate(rows: w.rows, columns: w.columns)
        let (n, k) = (w.rows, w.columns)
        let expected: (data: (DType, Int), scales: Int?, zeros: Int?)
        switch w.format {
        case .int8PerChannel: expected = ((.i8, n * k), n, nil)
        case let .int4(g, symmetric): expected = ((.q4, n * k), n * k / g, symmetric ? nil : n * k / g)
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K: expected = ((.u8, n * w.format.ggufRowBytes(columns: k)!), nil, nil)
        case .bf16: expected = ((.bf16, n * k), nil, nil)
        case .f16: expected = ((.f16, n * k), nil, nil)
        }
        let what = "\(w.format) weight \(w.data.name.isEmpty ? "" : "'\(w.data.name)' ")\(n)x\(k)"
        guard w.data.dtype == expected.data.0, w.data.elementCount == expected.data.1 else {
            throw .shapeMismatch(op: "quantized weight", detail: "\(what): data \(w.data.label) should be \(expected.data.1) \(expected.data.0)")
        }
        guard (w.scales?.elementCount) == expected.scales, w.scales.map({ $0.dtype == .f32 }) ?? true else {
            throw .shapeMismatch(op: "quantized weight", detail: "\(what): needs \(expected.scales.map { "\($0) f32 scales" } ?? "no scales")")
        }
        guard (w.zeros?.elementCount) == expected.zeros, w.zeros.map({ $0.dtype == .u8 }) ?? true else {
            throw .shapeMismatch(op: "quantized weight", detail: "\(what): needs \(expected.zeros.map { "\($0) u8 zero points" } ?? "no zero points")")
        }
    }

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    /// Sizes without operands, for benchmarks.
    public struct Dims: Sendable {
        public let m: Int, n: Int, k: Int
        public init(m: Int, n: Int, k: Int) { self.m = m; self.n = n; self.k = k }
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }
}

/// The checks of a dequantization of `w` into `out` on `backend`.
public func checkDequantize(_ w: QuantizedTensor, into out: Tensor, on backend: BackendID) throws(SlimError) {
    try QuantizedMatmulShape.checkLayout(w)
    try requireOn(backend, w.tensors + [out], op: "dequantize")
    guard out.elementCount == w.rows * w.columns, out.dtype == .f32 else {
        throw .shapeMismatch(op: "dequantize \(w.format)", detail: "\(out.label) must hold \(w.rows)x\(w.columns) f32")
    }
}

extension QuantCodec {
    /// The dtype and shape of the `data` tensor of a `[rows, columns]` weight.
    public static func dataLayout(_ format: QuantFormat, rows: Int, columns: Int) -> (DType, Shape) {
        switch format {
        case .int8PerChannel: (.i8, [rows, columns])
        case .int4: (.q4, [rows, columns])
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K: (.u8, [rows, format.ggufRowBytes(columns: columns)!])
        case .bf16: (.bf16, [rows, columns])
        case .f16: (.f16, [rows, columns])
        }
    }

    /// W8A8's activation quantization of one row (see ``QuantizedMatmulShape``).
    public static func quantizeActivationRow(_ x: UnsafeBufferPointer<Float>, into q: UnsafeMutableBufferPointer<Int8>) -> Float {
        var peak: Float = 0
        for v in x { peak = max(peak, abs(v)) }
        let scale = peak / 127
        let inverse = scale == 0 ? 0 : 1 / scale
        for i in 0..<x.count { q[i] = Int8((x[i] * inverse).rounded()) }
        return scale
    }
}

extension Backend {
    /// Uploads an encoded weight as a ``QuantizedTensor`` on this backend.
    public func upload(_ e: QuantCodec.Encoded, rows: Int, columns: Int, format: QuantFormat, name: String = "") throws -> QuantizedTensor {
        let (dtype, shape) = QuantCodec.dataLayout(format, rows: rows, columns: columns)
        let data = try allocate(shape, dtype: dtype, name: name)
        try e.data.withUnsafeBytes { try upload($0, to: data) }
        let scales = e.scales.isEmpty ? nil : try tensor(e.scales, shape: [e.scales.count], name: name + ".scales")
        let zeros = e.zeros.isEmpty ? nil : try tensor(e.zeros, shape: [e.zeros.count], dtype: .u8, name: name + ".zeros")
        let w = QuantizedTensor(format: format, rows: rows, columns: columns, data: data, scales: scales, zeros: zeros)
        try QuantizedMatmulShape.checkLayout(w)
        return w
    }

    /// Downloads the bytes of a quantized weight.
    public func encoded(_ w: QuantizedTensor) throws -> QuantCodec.Encoded {
        var data = [UInt8](repeating: 0, count: w.data.byteCount)
        try data.withUnsafeMutableBytes { try download(w.data, into: $0) }
        var zeros = [UInt8](repeating: 0, count: w.zeros?.byteCount ?? 0)
        if let z = w.zeros { try zeros.withUnsafeMutableBytes { try download(z, into: $0) } }
        return QuantCodec.Encoded(data: data, scales: try w.scales.map { try floats($0) } ?? [], zeros: zeros)
    }

    /// Round-to-nearest quantization through the host codec: the weight is read
    /// back, encoded by ``QuantCodec`` and uploaded. Quantizing is a one-time
    /// step before a model runs; both backends share this exact rounding.
    public func quantizeOnHost(_ w: Tensor, format: QuantFormat) throws -> QuantizedTensor {
        try requireOn(id, [w], op: "quantize")
        try requireF32(w, op: "quantize")
        guard w.shape.rank == 2 else { throw SlimError.shapeMismatch(op: "quantize \(format)", detail: "\(w.label) must be [N, K]") }
        let e = try QuantCodec.encode(try floats(w), rows: w.shape[0], columns: w.shape[1], format: format, name: w.name)
        return try upload(e, rows: w.shape[0], columns: w.shape[1], format: format, name: w.name)
    }
}

extension ActivationPrecision {
    /// What a layer with `columns` inputs runs: per-block int8 needs whole runs of
    /// 32, so a layer whose K is not a multiple of 32 (Slim gives such layers int8
    /// weights per row) quantizes its activations per row instead — the model as a
    /// whole keeps the precision asked for, rather than refusing to run a folder Slim wrote.
    public func fitting(columns: Int) -> ActivationPrecision {
        self == .int8PerBlock && columns % 32 != 0 ? .int8PerRow : self
    }

    /// What a layer whose weight is stored in `format` runs: as ``fitting(columns:)``,
    /// except that 16-bit float weights (not quantized: their products have no
    /// integer form) always multiply fp32 activations.
    public func fitting(_ format: QuantFormat, columns: Int) -> ActivationPrecision {
        format.isFloat16 ? .f32 : fitting(columns: columns)
    }
}
