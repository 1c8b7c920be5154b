import Foundation
import SlimConformance
import SlimCore
import Testing

/// Seeded random numbers (SplitMix64): every randomized test draws its inputs from one.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A randomized test's inputs. Each test draws a fresh seed and prints it,
/// with the test and its arguments; `SLIM_TEST_SEED=<n>` makes every test use
/// seed n instead, so a failure replays with
/// `SLIM_TEST_SEED=<n> swift test --filter <test>`.
struct Inputs {
    let seed: UInt64
    var rng: SplitMix64

    /// `arguments`: the test's arguments, to name the case the seed belongs to.
    init(_ arguments: Any..., function: String = #function) {
        seed = Self.replayed ?? UInt64.random(in: 1...UInt64.max)
        rng = SplitMix64(seed: seed)
        let named = arguments.map { String(describingForTest: $0) }.joined(separator: ", ")
        print("seed \(seed): \(function)" + (named.isEmpty ? "" : " [\(named)]") + " (SLIM_TEST_SEED=\(seed) replays it)")
    }

    static let replayed: UInt64? = {
        guard let text = ProcessInfo.processInfo.environment["SLIM_TEST_SEED"] else { return nil }
        guard let seed = UInt64(text) else { preconditionFailure("SLIM_TEST_SEED=\(text) is not an unsigned 64-bit integer") }
        return seed
    }()

    /// Uniform in [-scale, scale), never all zero.
    mutating func floats(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in Float.random(in: -scale..<scale, using: &rng) }
    }
}

/// Checks every element: finite and within `atol + rtol·|ref|`.
func expectClose(_ actual: [Float], _ reference: [Double], rtol: Double, atol: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    expectWithin(actual, reference, bounds: reference.map { atol + rtol * abs($0) }, "\(what) (rtol \(rtol), atol \(atol))",
                 sourceLocation: sourceLocation)
}

/// Checks every element: finite and within its own bound of the reference
/// (bounds computed from the reference and the inputs, never from `actual`).
func expectWithin(_ actual: [Float], _ reference: [Double], bounds: [Double], _ what: String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == reference.count, "\(what): \(actual.count) values for \(reference.count)", sourceLocation: sourceLocation)
    var worst = (index: -1, excess: 0.0)
    for (i, (a, r)) in zip(actual, reference).enumerated() {
        let err = abs(Double(a) - r)
        if !a.isFinite || err > bounds[i] {
            let excess = a.isFinite ? err / bounds[i] : .infinity
            if worst.index < 0 || excess > worst.excess { worst = (i, excess) }
        }
    }
    if worst.index >= 0 {
        let i = worst.index
        Issue.record("\(what): element \(i) is \(actual[i]), reference \(reference[i]), bound \(bounds[i])", sourceLocation: sourceLocation)
    }
}

