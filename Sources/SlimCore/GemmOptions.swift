/// What a GEMM computes: `C = epilogue(alpha · op(A) · op(B) + beta · C + bias)`.
///
/// `op(X)` is `X` or its transpose. `bias` has `N` elements and is added to
/// every row. With `beta == 0`, `C` is never read, so it may hold anything
/// (NaN included) on entry.
public struct GemmOptions: Sendable {
    public enum Epilogue: String, Sendable, CaseIterable {
        case none
        /// The exact GELU, `x · Φ(x)` with the error function (BERT's activation).
        case gelu
    }

    public var transposeA: Bool
    public var transposeB: Bool
    public var alpha: Float
    public var beta: Float
    public var bias: Tensor?
    public var epilogue: Epilogue

    public init(transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1, beta: Float = 0,
                bias: Tensor? = nil, epilogue: Epilogue = .none) {
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.alpha = alpha
        self.beta = beta
        self.bias = bias
        self.epilogue = epilogue
    }
}

/// The sizes of one GEMM, resolved and checked once for both backends.
///
/// `A` is `[M, K]` (or `[K, M]` transposed); without a transpose its leading
/// dimensions are flattened into `M`, so a `[batch, seq, hidden]` activation
/// multiplies a `[hidden, out]` weight directly. `B` is `[K, N]` (or `[N, K]`).
/// `C` holds `M · N` elements with `N` innermost.
public struct GemmShape: Sendable, Equatable, CustomStringConvertible {
    public let m: Int, n: Int, k: Int

    public init(m: Int, n: Int, k: Int) { self.m = m; self.n = n; self.k = k }

    public init(a: Tensor, b: Tensor, c: Tensor, options: GemmOptions) throws(SlimError) {
        let op = "gemm"
        for t in [a, b, c] + (options.bias.map { [$0] } ?? []) { try requireF32(t, op: op) }
        guard a.shape.rank >= 2, b.shape.rank == 2 else {
            throw .shapeMismatch(op: op, detail: "A \(a.shape) needs rank ≥ 2 and B \(b.shape) rank 2")
        }
        let (m, ka) = options.transposeA
            ? (a.shape.rank == 2 ? (a.shape[1], a.shape[0]) : (-1, -1))
            : (a.shape.outerCount, a.shape.innermost)
        guard m > 0 else { throw .shapeMismatch(op: op, detail: "a transposed A must have rank 2, got \(a.shape)") }
        let (kb, n) = options.transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard ka == kb else {
            throw .shapeMismatch(op: op, detail: "op(A) is \(m)x\(ka) but op(B) is \(kb)x\(n): inner dimensions differ")
        }
        guard c.elementCount == m * n, c.shape.innermost == n else {
            throw .shapeMismatch(op: op, detail: "C \(c.shape) must hold \(m)x\(n) with \(n) innermost")
        }
        if let bias = options.bias, bias.elementCount != n {
            throw .shapeMismatch(op: op, detail: "bias \(bias.shape) must have \(n) elements, one per column of C")
        }
        self.init(m: m, n: n, k: ka)
    }

    /// Floating-point operations of the product (a multiply and an add per term).
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    public var description: String { "\(m)x\(n)x\(k)" }
}
