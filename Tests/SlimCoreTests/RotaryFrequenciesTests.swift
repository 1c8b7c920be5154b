import Foundation
import SlimCore
import Testing

/// The rotary tables against transformers' formulas (`modeling_rope_utils.py`),
/// evaluated op by op in float32 as torch does them by a numpy script
/// (numpy 2.4, float32 arrays; `a / t` as `t.reciprocal() * a`, Python scalars
/// cast to float32, the power rounded from float64). The values are the
/// float32 bit patterns it printed; Slim must reproduce them exactly.
@Suite struct RotaryFrequenciesTests {
    static let default10000x80: [UInt32] = [
        0x3F800000, 0x3F4B5918, 0x3F21866B, 0x3F004DCE, 0x3ECBD4B4, 0x3EA1E89B, 0x3E809BCC, 0x3E4C509B,
        0x3E224B06, 0x3E00E9FA, 0x3DCCCCCD, 0x3DA2ADAD, 0x3D813855, 0x3D4D494B, 0x3D231091, 0x3D0186E3,
        0x3CCDC613, 0x3CA373AE, 0x3C81D5A0, 0x3C4E432A, 0x3C23D70A, 0x3C02248C, 0x3BCEC089, 0x3BA43AA3,
        0x3B8273A4, 0x3B4F3E38, 0x3B249E78, 0x3B02C2F1, 0x3ACFBC32, 0x3AA50284, 0x3A83126F, 0x3A503A7A,
        0x3A2566D4, 0x3A03621C, 0x39D0B907, 0x39A5CB60, 0x3983B1FA, 0x395137E8, 0x39263028, 0x39040204,
    ]
    static let linear10000x64by4: [UInt32] = [
        0x3E800000, 0x3E3FF911, 0x3E0FF59A, 0x3DD7E89B, 0x3DA1E89B, 0x3D72D423, 0x3D361887, 0x3D088D77,
        0x3CCCCCCD, 0x3C99940D, 0x3C6655C2, 0x3C2CBA15, 0x3C0186E3, 0x3BC2434F, 0x3B91AD39, 0x3B5A7BF2,
        0x3B23D70A, 0x3AF5B9B0, 0x3AB8449C, 0x3A8A2E77, 0x3A4F3E38, 0x3A1B690D, 0x39E91528, 0x39AEC98E,
        0x3983126F, 0x3944948C, 0x39136A16, 0x38DD1725, 0x38A5CB60, 0x3878A815, 0x383A7753, 0x380BD472,
    ]
    /// Llama 3.2 1B's `rope_scaling`: 29 frequencies kept, 29 divided by 32, 6 blended.
    static let llama3of500000x128: [UInt32] = [
        0x3F800000, 0x3F508AC1, 0x3F29E1C6, 0x3F0A6384, 0x3EE177BC, 0x3EB7AB7D, 0x3E959EE3, 0x3E73C461,
        0x3E4693B0, 0x3E21C3A0, 0x3E03C6A0, 0x3DD6B19C, 0x3DAEE4AD, 0x3D8E7898, 0x3D681E67, 0x3D3D1684,
        0x3D1A08C8, 0x3CFAF53F, 0x3CCC6F49, 0x3CA68939, 0x3C87A9C3, 0x3C5D06EC, 0x3C340D6D, 0x3C12AC7F,
        0x3BEEF74F, 0x3BC2AA76, 0x3B9E9402, 0x3B812E35, 0x3B527720, 0x3B0AD4F8, 0x3AA9279B, 0x3A47E547,
        0x39E13620, 0x39699599, 0x38CB98F7, 0x37C86886, 0x37A3418D, 0x3784FDBF, 0x3758AC81, 0x37308199,
        0x370FC8F8, 0x36EA426F, 0x36BED4F4, 0x369B7475, 0x367D45C3, 0x364E51F5, 0x3628126B, 0x3608EA0F,
        0x35DF10C4, 0x35B5B687, 0x359406CB, 0x35712B80, 0x35447610, 0x35200A69, 0x35025F34, 0x34D46808,
        0x34AD07A7, 0x348CF400, 0x3465A54D, 0x343B12C7, 0x341864A7, 0x33F848C2, 0x33CA41B0, 0x33A4C2FF,
    ]

    @Test func defaultTable() {
        expectBits(RotaryFrequencies.inverse(base: 10000, rotaryDim: 80, scaling: nil), Self.default10000x80, "default")
    }

    @Test func linearScaling() {
        expectBits(RotaryFrequencies.inverse(base: 10000, rotaryDim: 64, scaling: .linear(factor: 4)), Self.linear10000x64by4, "linear")
    }

    @Test func llama3Scaling() {
        let scaling = RopeScaling.llama3(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192)
        let table = RotaryFrequencies.inverse(base: 500000, rotaryDim: 128, scaling: scaling)
        expectBits(table, Self.llama3of500000x128, "llama3")
        // The three regions are all there: high frequencies kept, low ones divided, a blend between.
        let plain = RotaryFrequencies.inverse(base: 500000, rotaryDim: 128, scaling: nil)
        #expect(zip(table, plain).filter { $0 == $1 }.count == 29)
        #expect(zip(table, plain).filter { $0 == $1 / 32 }.count == 29)
    }

    private func expectBits(_ table: [Float], _ want: [UInt32], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(table.count == want.count, "\(what): \(table.count) frequencies for \(want.count)", sourceLocation: sourceLocation)
        for (i, (got, bits)) in zip(table, want).enumerated() where got.bitPattern != bits {
            Issue.record("\(what) frequency \(i): \(got) (0x\(String(got.bitPattern, radix: 16))), transformers' \(Float(bitPattern: bits))",
                         sourceLocation: sourceLocation)
        }
    }
}
