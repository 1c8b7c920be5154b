import Foundation
import SlimCore
import Testing
import TestSupport

/// bf16 and fp16 to and from fp32, checked on every 16-bit pattern and
/// against rounding worked out in Double.
@Suite struct HalfFloatTests {
    /// Widening is exact: every pattern comes back from its fp32 value, NaN as a NaN.
    @Test func everyPatternRoundTrips() {
        for bits in UInt16.min...UInt16.max {
            let b = HalfFloats.float(bf16: bits), h = HalfFloats.float(f16: bits)
            if b.isNaN { #expect(HalfFloats.float(bf16: HalfFloats.bf16(b)).isNaN) } else { #expect(HalfFloats.bf16(b) == bits, "bf16 \(bits)") }
            if h.isNaN { #expect(HalfFloats.float(f16: HalfFloats.f16(h)).isNaN) } else { #expect(HalfFloats.f16(h) == bits, "f16 \(bits)") }
        }
    }

    /// The values at the edges, as IEEE defines them.
    @Test func edgesWidenToTheirValues() {
        #expect(HalfFloats.float(f16: 0x0001) == 0x1p-24, "smallest f16 subnormal")
        #expect(HalfFloats.float(f16: 0x03FF) == 1023 * 0x1p-24, "largest f16 subnormal")
        #expect(HalfFloats.float(f16: 0x7BFF) == 65504 && HalfFloats.float(f16: 0x7C00) == .infinity && HalfFloats.float(f16: 0xFC00) == -.infinity)
        #expect(HalfFloats.float(bf16: 0x0001) == Float(bitPattern: 0x0001_0000), "bf16 subnormal")
        #expect(HalfFloats.float(bf16: 0x7F80) == .infinity && HalfFloats.float(bf16: 0x8000).sign == .minus)
        #expect(HalfFloats.float(bf16: 0x7FC0).isNaN && HalfFloats.float(f16: 0x7E00).isNaN)
        // NaN payloads only in the low half still narrow to NaN, not to ∞.
        #expect(HalfFloats.float(bf16: HalfFloats.bf16(Float(bitPattern: 0x7F80_0001))).isNaN)
        #expect(HalfFloats.bf16(.greatestFiniteMagnitude) == 0x7F80, "rounds up past bf16's largest finite value to ∞")
        #expect(HalfFloats.bf16(Float(bitPattern: 0x3F80_8000)) == 0x3F80 && HalfFloats.bf16(Float(bitPattern: 0x3F81_8000)) == 0x3F82, "ties to even")
    }

    /// Narrowing picks the nearer of the two neighbours, ties to the even one, on random fp32 patterns.
    @Test(.seeded) func narrowingRoundsToNearestEven() {
        var rng = SplitMix64(seed: TestSeed.current)
        for _ in 0..<100_000 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            guard x.isFinite else { continue }
            let down = UInt16(x.bitPattern >> 16), up = down &+ 1
            // Past the largest finite bf16 the next step up is 2^128, which then overflows to ∞ (IEEE 754 §4.3).
            let a = Double(HalfFloats.float(bf16: down))
            let b = HalfFloats.float(bf16: up).isInfinite ? (x < 0 ? -0x1p128 : 0x1p128) : Double(HalfFloats.float(bf16: up))
            let da = abs(Double(x) - a), db = abs(Double(x) - b)
            let expected = da < db ? down : db < da ? up : (down & 1 == 0 ? down : up)
            #expect(HalfFloats.bf16(x) == expected, "\(x.bitPattern)")
            // fp16: Double holds every f16 and fp32 value, so the nearest is found by comparison.
            let h = HalfFloats.f16(x), value = Double(HalfFloats.float(f16: h))
            if value.isFinite {
                let neighbours = [h &- 1, h &+ 1].map { Double(HalfFloats.float(f16: $0)) }.filter(\.isFinite)
                for n in neighbours where n.sign == value.sign {
                    #expect(abs(Double(x) - value) <= abs(Double(x) - n), "f16 of \(x)")
                }
            }
        }
    }
}
