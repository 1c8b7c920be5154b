/// SplitMix64: the tests' one seeded generator, so a failing case
/// reproduces from its seed alone (see ``TestSeed``).
/// (Test targets cannot share sources: SlimModelTests and CLITests keep this same file.)
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

    /// A uniform value in [−1, 1).
    mutating func uniform() -> Float { Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1 }

    /// `count` uniform values in [−1, 1).
    mutating func matrix(_ count: Int) -> [Float] { (0..<count).map { _ in uniform() } }
}
