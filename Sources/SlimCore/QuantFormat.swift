/// The compressed weight formats, with their packing documented in this one place.
///
/// Every format stores a weight `W` of `[N, K]` (output rows, input columns),
/// quantized along `K`, row after row:
/// - ``int8PerChannel``: `data` i8 `[N, K]`; `scales` f32 `[N]`; `w = scale · q`.
/// - ``int4(groupSize:symmetric:)``: `data` q4 `[N, K]` (`K/2` bytes a row);
///   `scales` f32 `[N, K/g]`. Within each run of 32 weights, byte `j` holds
///   weight `j` in its low nibble and weight `j + 16` in its high nibble (the
///   layout of llama.cpp's Q4 blocks, so one decoder serves all 4-bit formats).
///   Symmetric: nibble `u` stands for `q = u − 8`, `w = scale · q`.
///   Asymmetric: `zeros` u8 `[N, K/g]` holds the zero point `z ∈ [0, 15]`, `w = scale · (u − z)`.
/// - ``q8_0``, ``q4_0``, ``q4_1``: llama.cpp's GGUF blocks of 32 weights, byte for
///   byte: Q8_0 is an fp16 scale `d` and 32 int8 (34 bytes, `w = d · q`); Q4_0 is `d`
///   and 16 bytes of nibbles laid out as above (18 bytes, `w = d · (u − 8)`); Q4_1 is
///   `d`, an fp16 minimum `m` and the nibbles (20 bytes, `w = d · u + m`). `data` u8
///   `[N, K/32 · blockBytes]`.
/// - ``q4_K``, ``q6_K``: llama.cpp's k-quant super-blocks of 256 weights, byte for
///   byte (see ``KQuantBlock``). Q4_K (144 bytes) is fp16 `d`, fp16 `dmin`, 12
///   bytes packing eight 6-bit sub-block scales `sc` and eight 6-bit minimums `m`
///   (llama.cpp's `get_scale_min_k4`), and 128 bytes of nibbles: byte `l` of each
///   32-byte chunk `c` holds weight `64c + l` low and `64c + 32 + l` high; sub-blocks
///   of 32, `w = d·sc·u − dmin·m`. Q6_K (210 bytes) is 128 bytes of low nibbles,
///   64 bytes of high 2-bit pairs, sixteen int8 sub-block scales and fp16 `d`;
///   sub-blocks of 16, `w = d·sc·(q − 32)`. `data` u8 `[N, K/256 · blockBytes]`.
/// - ``bf16``, ``f16``: not quantized, the weight kept in the 16-bit float a
///   checkpoint stores (bf16: fp32's upper half; f16: IEEE binary16), `data`
///   bf16 or f16 `[N, K]`, no scales. Encoding rounds to nearest even (values
///   past the type's range are refused); widening is exact, so a bf16
///   checkpoint's weights run as they are stored, at half the memory of fp32.
///   Only fp32 activations (``ActivationPrecision/f32``).
/// - ``q5_0``, ``q5_1``: llama.cpp's 5-bit blocks of 32 weights, byte for byte (see
///   ``Q5Block``): Q5_0 is fp16 `d`, 4 bytes `qh` (bit `j` of the little-endian
///   uint32 is the fifth bit of weight `j`) and 16 bytes of low nibbles laid out as
///   Q4_0's (22 bytes, `w = d · (q − 16)`); Q5_1 is `d`, an fp16 minimum `m`, `qh`
///   and the nibbles (24 bytes, `w = d · q + m`). `data` u8 `[N, K/32 · blockBytes]`.
public enum QuantFormat: Sendable, Hashable, CustomStringConvertible {
    case int8PerChannel
    case int4(groupSize: Int, symmetric: Bool)
    case q8_0, q4_0, q4_1
    case q4_K, q6_K
    case q5_0, q5_1
    case bf16, f16

    public var description: String {
        switch self {
        case .int8PerChannel: "int8"
        case let .int4(g, sym): "int4-g\(g)" + (sym ? "" : "-asym")
        case .q8_0: "q8_0"
        case .q4_0: "q4_0"
        case .q4_1: "q4_1"
        case .q4_K: "q4_k"
        case .q6_K: "q6_k"
        case .bf16: "bf16"
        case .f16: "f16"
        case .q5_0: "q5_0"
        case .q5_1: "q5_1"
        }
    }

    /// The formats `init(parsing:)` accepts, for messages.
    public static let spellings = "int8, int4-g{32,64,128}[-asym], q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k, bf16 or f16"

    /// Parses `int8`, `int4-g32`, `int4-g128-asym`, `q8_0`, `q4_0`, `q4_1`, `q5_0`, `q5_1`, `q4_k`, `q6_k`.
    public init(parsing text: String) throws(SlimError) {
        switch text.lowercased() {
        case "int8": self = .int8PerChannel
        case "q8_0": self = .q8_0
        case "q4_0": self = .q4_0
        case "q4_1": self = .q4_1
        case "q4_k": self = .q4_K
        case "q6_k": self = .q6_K
        case "bf16": self = .bf16
        case "f16": self = .f16
        case "q5_0": self = .q5_0
        case "q5_1": self = .q5_1
        case let t where t.hasPrefix("int4-g"):
            let rest = t.dropFirst("int4-g".count)
            let asym = rest.hasSuffix("-asym")
            guard let g = Int(asym ? rest.dropLast("-asym".count) : rest), [32, 64, 128].contains(g) else {
                throw .invalidArgument("quantization format '\(text)': int4 group size must be 32, 64 or 128")
            }
            self = .int4(groupSize: g, symmetric: !asym)
        default:
            throw .invalidArgument("unknown quantization format '\(text)': expected \(Self.spellings)")
        }
    }

    /// The unit K must be a multiple of: weights that share one scale along K
    /// (`nil`: the whole row), a k-quant's super-block of 256.
    public var blockSize: Int? {
        switch self {
        case .int8PerChannel, .bf16, .f16: nil
        case let .int4(g, _): g
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: 32
        case .q4_K, .q6_K: 256
        }
    }

    /// Bytes of one GGUF block of ``ggufBlockWeights`` weights (nil for the other formats).
    public var ggufBlockBytes: Int? {
        switch self {
        case .q8_0: 34
        case .q4_0: 18
        case .q4_1: 20
        case .q4_K: 144
        case .q6_K: 210
        case .q5_0: 22
        case .q5_1: 24
        default: nil
        }
    }

    /// Weights in one GGUF block: 32, or 256 for the k-quants' super-blocks (nil for the other formats).
    public var ggufBlockWeights: Int? {
        switch self {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: 32
        case .q4_K, .q6_K: 256
        default: nil
        }
    }

    /// Bytes of one packed row of `columns` weights in a GGUF block format.
    public func ggufRowBytes(columns: Int) -> Int? {
        guard let bytes = ggufBlockBytes, let weights = ggufBlockWeights else { return nil }
        return columns / weights * bytes
    }

    /// Q4_K or Q6_K: llama.cpp's super-blocks of 256.
    public var isKQuant: Bool { self == .q4_K || self == .q6_K }

    /// bf16 or f16: a 16-bit float weight, not quantized (its ``DType`` is the format's).
    public var isFloat16: Bool { self == .bf16 || self == .f16 }
    /// Q5_0 or Q5_1: llama.cpp's 5-bit blocks of 32.
    public var isQ5: Bool { self == .q5_0 || self == .q5_1 }

    /// Bits stored per weight, scales and zero points included.
    public var bitsPerWeight: Double {
        switch self {
        case .int8PerChannel: 8
        case let .int4(g, sym): 4 + (sym ? 32 : 40) / Double(g)
        case .q8_0: 34 * 8 / 32
        case .q4_0: 18 * 8 / 32
        case .q4_1: 20 * 8 / 32
        case .q4_K: 144 * 8 / 256
        case .q6_K: 210 * 8 / 256
        case .bf16, .f16: 16
        case .q5_0: 22 * 8 / 32
        case .q5_1: 24 * 8 / 32
        }
    }

    /// Throws unless a `[rows, columns]` weight can be stored in this format.
    public func validate(rows: Int, columns: Int, name: String = "weight") throws(SlimError) {
        guard rows > 0, columns > 0 else { throw .shapeMismatch(op: "quantize \(self)", detail: "\(name) is empty") }
        if let g = blockSize, columns % g != 0 {
            throw .shapeMismatch(op: "quantize \(self)",
                                 detail: "\(name) has K = \(columns) columns, not a multiple of the block size \(g) the format needs")
        }
    }
}

/// A weight in a compressed format, living on one backend.
public struct QuantizedTensor: Sendable {
    public let format: QuantFormat
    /// Output rows `N` and input columns `K`.
    public let rows: Int, columns: Int
    public let data: Tensor
    /// f32 scales (int8: `[N]`, int4: `[N, K/g]`); nil for the GGUF formats, whose scales are in `data`.
    public let scales: Tensor?
    /// u8 zero points of asymmetric int4.
    public let zeros: Tensor?

    public init(format: QuantFormat, rows: Int, columns: Int, data: Tensor, scales: Tensor?, zeros: Tensor?) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.data = data
        self.scales = scales
        self.zeros = zeros
    }

    /// Bytes the weight occupies: data, scales and zero points.
    public var byteCount: Int { data.byteCount + (scales?.byteCount ?? 0) + (zeros?.byteCount ?? 0) }

    /// Every tensor of the weight, for backend checks.
    public var tensors: [Tensor] { [data] + (scales.map { [$0] } ?? []) + (zeros.map { [$0] } ?? []) }
}
