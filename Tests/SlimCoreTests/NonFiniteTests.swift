import SlimCore
import Testing

/// Issue 21, non-finite weights: the shared scan finds NaN and ±∞, and the
/// host codec (round to nearest into every format) refuses them by name
/// instead of trapping in `Int(NaN)`.
@Suite struct NonFiniteTests {
    static let bad: [Float] = [.nan, .infinity, -.infinity]

    @Test func scanFindsTheFirstNonFiniteValueAndCountsThemAll() {
        #expect(FiniteCheck.scan([Float](repeating: 1, count: 1000)) == nil)
        #expect(FiniteCheck.scan([]) == nil)
        // Every position of a vector body and of the scalar tail.
        for n in [1, 31, 32, 33, 100] {
            for at in [0, n / 2, n - 1] {
                for value in Self.bad {
                    var x = [Float](repeating: -2.5, count: n)
                    x[at] = value
                    let found = FiniteCheck.scan(x)
                    #expect(found?.index == at && found?.count == 1, "n \(n), \(value) at \(at): \(String(describing: found))")
                }
            }
        }
        var x = [Float](repeating: 0, count: 70)
        x[40] = .infinity; x[3] = .nan; x[69] = -.infinity
        #expect(FiniteCheck.scan(x)?.description == "NaN at element 3 (3 non-finite values in all)")
    }

    @Test(arguments: [QuantFormat.int8PerChannel, .int4(groupSize: 32, symmetric: true), .int4(groupSize: 32, symmetric: false),
                      .q8_0, .q4_0, .q4_1])
    func codecRefusesNonFiniteWeightsNamingTheTensor(_ format: QuantFormat) throws {
        for value in Self.bad {
            var w = (0..<128).map { Float($0 % 7) - 3 }
            w[37] = value
            let error = thrown { _ = try QuantCodec.encode(w, rows: 2, columns: 64, format: format, name: "layer.0.query.weight") }
            guard case let .nonFinite(tensor, origin, detail) = error else {
                Issue.record("\(format): \(value): \(String(describing: error))")
                continue
            }
            #expect(tensor == "layer.0.query.weight" && origin.contains("\(format)") && detail.contains("element 37"), "\(detail)")
        }
    }

    /// Finite weights whose fp16 block scale overflows (|w| > 65504 · 127) had an
    /// infinite scale: Q4_1 trapped, Q8_0 and Q4_0 decoded to NaN.
    @Test(arguments: [QuantFormat.q8_0, .q4_0, .q4_1])
    func ggufBlocksRefuseWeightsTheirFP16ScaleCannotHold(_ format: QuantFormat) throws {
        var w = [Float](repeating: 0.5, count: 64)
        w[5] = -1e30
        #expect(throws: SlimError.self) { try QuantCodec.encode(w, rows: 1, columns: 64, format: format, name: "big") }
        w[5] = 3e4  // fits fp16 after the division: still encodes
        let e = try QuantCodec.encode(w, rows: 1, columns: 64, format: format, name: "fits")
        #expect(try QuantCodec.decode(e, rows: 1, columns: 64, format: format).allSatisfy(\.isFinite))
    }
}

/// The SlimError `body` throws, nil if it returns.
func thrown(_ body: () throws -> Void) -> SlimError? {
    do { try body(); return nil } catch { return error as? SlimError }
}
