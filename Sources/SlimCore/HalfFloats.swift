/// The 16-bit float formats model files store, to and from fp32.
///
/// Widening is exact for both (every fp16 and bf16 value, subnormals, ±∞
/// and NaN included, is an fp32 value). Narrowing rounds to nearest, ties to
/// even, as PyTorch's `tensor.to(torch.bfloat16)` and IEEE conversion do:
/// values past the largest finite one become ±∞, NaN stays NaN (quieted).
public enum HalfFloats {
    /// bfloat16 is the top half of an fp32: widening is a shift.
    @inline(__always) public static func float(bf16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    @inline(__always) public static func float(f16 bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inline(__always) public static func bf16(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        // Adding 0x7FFF plus the kept half's lowest bit rounds to nearest, ties to
        // even, and carries into the exponent (up to ∞) where it must. NaN is kept
        // apart: the carry could turn a NaN whose payload is in the low half into ∞.
        if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// IEEE binary16, rounded to nearest even by the conversion itself.
    @inline(__always) public static func f16(_ x: Float) -> UInt16 {
        Float16(x).bitPattern
    }
}
