/// The compressed weight formats, with their packing documented in this one place.
///
/// Every format stores a weight `W` of `[N, K]` (output rows, input columns),
/// quantized along `K`:
/// - ``int8PerChannel``: `data` i8 `[N, K]`, `scales` f32 `[N]`; `w = scale · q`.
/// - ``int4(groupSize:symmetric:)``: `data` q4 `[N, K]`, two weights per byte,
///   element `2j` in the low nibble of byte `j`; `scales` f32 `[N, K/g]`.
///   Symmetric: nibble `u` stands for `q = u − 8`, `w = scale · q`.
///   Asymmetric: `zeros` u8 `[N, K/g]` holds the zero point `z ∈ [0, 15]`, `w = scale · (u − z)`.
/// - ``q8_0``, ``q4_0``, ``q4_1``: llama.cpp's GGUF blocks of 32 weights, byte for
///   byte (fp16 scale `d`, then for Q4_1 fp16 min `m`, then the quants; Q4_0/Q4_1
///   put element `i` in the low nibble of byte `i` and element `i+16` in its high
///   nibble). `data` u8 holds the blocks of each row one after another.
public enum QuantFormat: Sendable, Hashable, CustomStringConvertible {
    case int8PerChannel
    case int4(groupSize: Int, symmetric: Bool)
    case q8_0, q4_0, q4_1

    public var description: String {
        switch self {
        case .int8PerChannel: "int8"
        case let .int4(g, sym): "int4-g\(g)" + (sym ? "" : "-asym")
        case .q8_0: "q8_0"
        case .q4_0: "q4_0"
        case .q4_1: "q4_1"
        }
    }
}

/// A weight in a compressed format, living on one backend.
public struct QuantizedTensor: Sendable {
    public let format: QuantFormat
    /// Output rows `N` and input columns `K`.
    public let rows: Int, columns: Int
    public let data: Tensor
    public let scales: Tensor?
    public let zeros: Tensor?

    public init(format: QuantFormat, rows: Int, columns: Int, data: Tensor, scales: Tensor?, zeros: Tensor?) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.data = data
        self.scales = scales
        self.zeros = zeros
    }
}
