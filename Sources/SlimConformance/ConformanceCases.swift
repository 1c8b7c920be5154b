import SlimCore

/// One GEMM problem of the conformance list: sizes, transposes, alpha/beta, epilogue.
public struct GemmCase: Sendable, CustomStringConvertible {
    public let m: Int, n: Int, k: Int
    public var transposeA = false, transposeB = false
    public var alpha: Float = 1, beta: Float = 0
    public var bias = false
    public var epilogue: GemmOptions.Epilogue = .none

    public init(m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1, beta: Float = 0,
                bias: Bool = false, epilogue: GemmOptions.Epilogue = .none) {
        (self.m, self.n, self.k, self.transposeA, self.transposeB) = (m, n, k, transposeA, transposeB)
        (self.alpha, self.beta, self.bias, self.epilogue) = (alpha, beta, bias, epilogue)
    }

    public var description: String {
        "\(m)x\(n)x\(k)" + (transposeA ? " Aᵀ" : "") + (transposeB ? " Bᵀ" : "")
            + (alpha != 1 || beta != 0 ? " α=\(alpha) β=\(beta)" : "") + (bias ? " +bias" : "")
            + (epilogue == .none ? "" : " \(epilogue.rawValue)")
    }

    /// Sizes that are multiples of no tile (1, 7, 33, 257, …), every transpose,
    /// alpha/beta, and the bias and GELU epilogues.
    public static let all: [GemmCase] = {
        var cases: [GemmCase] = []
        for (m, n, k) in [(1, 1, 1), (7, 33, 257), (257, 7, 33), (33, 257, 7), (1, 257, 129), (3, 45, 64), (65, 130, 71)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                cases.append(GemmCase(m: m, n: n, k: k, transposeA: ta, transposeB: tb))
            }
        }
        cases.append(GemmCase(m: 33, n: 65, k: 17, alpha: 0.5, beta: 0.75))
        cases.append(GemmCase(m: 33, n: 65, k: 17, transposeB: true, alpha: -1.5, beta: 1, bias: true))
        cases.append(GemmCase(m: 9, n: 41, k: 300, bias: true, epilogue: .gelu))
        cases.append(GemmCase(m: 1, n: 77, k: 40, transposeB: true, bias: true, epilogue: .gelu))
        cases.append(GemmCase(m: 128, n: 96, k: 64, beta: 0.5, epilogue: .gelu))
        // Past every cache block of Slim's own tiles (MC 192, NC 1024, KC 768),
        // sized for a core's share: N > M splits C by columns, so each core has
        // all 197 rows (two A blocks) and K runs in two passes, the second adding
        // to what the first wrote with beta applied once; M ≥ N splits by rows,
        // so each core has all 1030 columns (two B blocks).
        cases.append(GemmCase(m: 197, n: 200, k: 777, transposeB: true, alpha: 0.5, beta: 0.75))
        cases.append(GemmCase(m: 197, n: 200, k: 771, transposeA: true))
        cases.append(GemmCase(m: 1040, n: 1030, k: 3))
        // One row (Slim's matrix-vector kernels) with alpha and beta, both layouts of B.
        cases.append(GemmCase(m: 1, n: 1043, k: 37, alpha: 0.5, beta: 0.75))
        cases.append(GemmCase(m: 1, n: 1043, k: 37, transposeB: true, alpha: -2, beta: 0.25))
        return cases
    }()
}

/// One quantized format of the conformance list, with a K that suits it.
public struct QuantCase: Sendable, CustomStringConvertible {
    public let format: QuantFormat
    /// K for this format: a multiple of its block, not of any larger power of two where possible.
    public let k: Int
    public init(format: QuantFormat, k: Int) { (self.format, self.k) = (format, k) }
    public var description: String { "\(format) K=\(k)" }

    public static let all: [QuantCase] = [
        QuantCase(format: .int8PerChannel, k: 101),
        QuantCase(format: .int4(groupSize: 32, symmetric: true), k: 160),
        QuantCase(format: .int4(groupSize: 32, symmetric: false), k: 160),
        QuantCase(format: .int4(groupSize: 64, symmetric: true), k: 192),
        QuantCase(format: .int4(groupSize: 128, symmetric: false), k: 384),
        QuantCase(format: .q8_0, k: 96),
        QuantCase(format: .q4_0, k: 96),
        QuantCase(format: .q4_1, k: 224),
        QuantCase(format: .q5_0, k: 160),
        QuantCase(format: .q5_1, k: 288),
        QuantCase(format: .q4_K, k: 768),
        QuantCase(format: .q6_K, k: 768),
        // 16-bit float weights: odd K, so every vector width ends in a tail.
        QuantCase(format: .bf16, k: 101),
        QuantCase(format: .f16, k: 75),
    ]
}
