import Foundation

/// One scored position, seen by both decoders: what each predicted for the
/// next token, and how far apart their distributions are.
public struct PositionComparison: Sendable, Equatable {
    /// The token that follows in the text.
    public let target: Int
    /// KL(P_original ‖ P_compressed), nats.
    public let kl: Double
    /// −log P(target) under each model, nats.
    public let nllOriginal: Double, nllCompressed: Double
    /// Each model's most likely token (the first of equals) and its probability.
    public let top1Original: Int, top1Compressed: Int
    public let confidenceOriginal: Double, confidenceCompressed: Double

    /// P_compressed(target) − P_original(target), as llama.cpp's Δp.
    public var deltaP: Double { exp(-nllCompressed) - exp(-nllOriginal) }

    /// Compares two rows of logits over the same vocabulary, in double from
    /// the log-softmax of each (shifted by its maximum, so large logits do not overflow).
    public init(original: ArraySlice<Float>, compressed: ArraySlice<Float>, target: Int) {
        precondition(original.count == compressed.count && original.indices.contains(original.startIndex + target))
        let a = LogSoftmax(original), b = LogSoftmax(compressed)
        self.target = target
        kl = a.divergence(to: b)
        nllOriginal = -a.values[target]
        nllCompressed = -b.values[target]
        top1Original = a.argmax
        top1Compressed = b.argmax
        confidenceOriginal = exp(a.values[a.argmax])
        confidenceCompressed = exp(b.values[b.argmax])
    }
}

extension PositionComparison {
    /// How a position travels between ranks: its fields as doubles (the integers are token ids,
    /// exact in a double), in this order.
    static let exchangedCount = 8
    var exchanged: [Double] {
        [Double(target), kl, nllOriginal, nllCompressed, Double(top1Original), Double(top1Compressed), confidenceOriginal, confidenceCompressed]
    }

    init(exchanged v: ArraySlice<Double>) {
        let v = Array(v)
        precondition(v.count == Self.exchangedCount)
        (target, kl, nllOriginal, nllCompressed) = (Int(v[0]), v[1], v[2], v[3])
        (top1Original, top1Compressed, confidenceOriginal, confidenceCompressed) = (Int(v[4]), Int(v[5]), v[6], v[7])
    }
}

/// `z − log Σ exp(z)` of one row of logits, in double, and its first maximum.
struct LogSoftmax {
    let values: [Double]
    let argmax: Int

    init(_ logits: ArraySlice<Float>) {
        var best = 0, peak = -Double.infinity
        for (i, z) in logits.enumerated() where Double(z) > peak { (best, peak) = (i, Double(z)) }
        var sum = 0.0
        for z in logits { sum += exp(Double(z) - peak) }
        let lse = peak + log(sum)
        values = logits.map { Double($0) - lse }
        argmax = best
    }

    /// KL(self ‖ other) in nats: Σ p·(log p − log q), with 0·log 0 = 0 (a token this one rules out costs nothing).
    func divergence(to other: LogSoftmax) -> Double {
        var kl = 0.0
        for i in 0..<values.count {
            let la = values[i], p = exp(la)
            if p > 0 { kl += p * (la - other.values[i]) }
        }
        // Rounding can leave a tiny negative sum when the two are equal; KL is never below 0.
        return max(kl, 0)
    }
}

/// How far a compressed decoder's next-token distributions are from its
/// original's over the same scored positions, the figures llama.cpp's
/// `--kl-divergence` reports: KL(P_original ‖ P_compressed) (mean, 99th
/// percentile, maximum), top-1 agreement ("same top p"), mean Δp, and both perplexities.
public struct DecoderComparison: Sendable {
    /// Every scored position, in text order.
    public private(set) var positions: [PositionComparison] = []

    public init() {}

    public mutating func append(_ position: PositionComparison) { positions.append(position) }

    /// Adds the rows of two `[rows × vocab]` logit blocks; row `r` predicts `targets[r]`.
    public mutating func append(original: [Float], compressed: [Float], vocab: Int, targets: some Collection<Int32>) {
        precondition(original.count == compressed.count && original.count == vocab * targets.count)
        for (r, target) in targets.enumerated() {
            let rows = r * vocab..<(r + 1) * vocab
            positions.append(PositionComparison(original: original[rows], compressed: compressed[rows], target: Int(target)))
        }
    }

    public var count: Int { positions.count }
    public var klMean: Double { mean(positions.map(\.kl)) }
    public var klP99: Double { Self.percentile(positions.map(\.kl), 0.99) }
    public var klMax: Double { positions.map(\.kl).max() ?? 0 }
    /// The share of positions where both models' most likely tokens are the same.
    public var top1Agreement: Double { mean(positions.map { $0.top1Original == $0.top1Compressed ? 1 : 0 }) }
    public var deltaPMean: Double { mean(positions.map(\.deltaP)) }
    public var perplexityOriginal: Double { exp(mean(positions.map(\.nllOriginal))) }
    public var perplexityCompressed: Double { exp(mean(positions.map(\.nllCompressed))) }

    /// The `q` quantile with linear interpolation between the closest ranks
    /// (numpy's default): sorted value at rank q·(n − 1).
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted(), rank = q * Double(sorted.count - 1)
        let low = Int(rank.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
    }

    private func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
}
