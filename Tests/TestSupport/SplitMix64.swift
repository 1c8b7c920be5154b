import SlimCore

/// SplitMix64: the tests' one seeded generator, so a failing case
/// reproduces from its seed alone (see ``TestSeed``).
public typealias SplitMix64 = SeededGenerator

extension SeededGenerator {
    /// A uniform value in [−1, 1).
    public mutating func uniform() -> Float { Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1 }

    /// `count` uniform values in [−1, 1).
    public mutating func matrix(_ count: Int) -> [Float] { (0..<count).map { _ in uniform() } }
}
