import Foundation

extension Collective {
    /// Every rank's values, any count per rank, in rank order: the counts go first,
    /// then the values padded to the longest (``allGather(_:step:)`` takes equal counts).
    public func allGatherVarying(_ values: [Double], step: String) throws -> [[Double]] {
        guard size > 1 else { return [values] }
        let counts = try allGather([Double(values.count)], step: step + " (counts)").map { Int($0[0]) }
        let longest = counts.max()!
        guard longest > 0 else { return counts.map { _ in [] } }
        let all = try allGather(values + [Double](repeating: 0, count: longest - values.count), step: step)
        return zip(all, counts).map { Array($0.prefix($1)) }
    }

    /// Every rank's bytes (any length per rank), in rank order: what one rank made (a
    /// packed linear) handed to all. Carried as doubles' bit patterns, which a gather
    /// copies and never computes on, so every byte arrives as it left.
    public func allGatherBytes(_ bytes: [UInt8], step: String) throws -> [[UInt8]] {
        guard size > 1 else { return [bytes] }
        var words = [Double](repeating: 0, count: 1 + (bytes.count + 7) / 8)
        words[0] = Double(bytes.count)
        words.withUnsafeMutableBytes { p in bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: p[8...]).copyMemory(from: $0) } }
        return try allGatherVarying(words, step: step).map { w in
            w.withUnsafeBytes { Array($0[8..<8 + Int(w[0])]) }
        }
    }
}
