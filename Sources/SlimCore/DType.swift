/// The element type of a ``Tensor``.
///
/// Packed types store several elements per byte; their ``byteCount(elements:)``
/// rounds up. The packing of the quantized formats is documented once, on
/// ``QuantFormat``.
public enum DType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case f32, f16, bf16
    case i8, u8, i32, i64
    /// Two 4-bit values per byte, the element with the even index in the low nibble.
    case q4

    /// Bits one element occupies.
    public var bitWidth: Int {
        switch self {
        case .f32, .i32: 32
        case .f16, .bf16: 16
        case .i8, .u8: 8
        case .i64: 64
        case .q4: 4
        }
    }

    /// Bytes needed for `elements` elements, packed types rounded up to whole bytes.
    public func byteCount(elements: Int) -> Int { (elements * bitWidth + 7) / 8 }

    public var description: String { rawValue }
}
