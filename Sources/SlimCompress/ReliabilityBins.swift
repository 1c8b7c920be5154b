import Foundation

/// Calibration of a classifier's top-1 confidence (for a decoder: the
/// probability of its most likely next token) in equal-width bins:
/// ECE = Σ_b (n_b / n)·|accuracy_b − mean confidence_b|, 15 bins as usual
/// (Guo et al. 2017). A confidence of exactly 1 falls in the last bin.
public struct ReliabilityBins: Sendable {
    public struct Bin: Sendable {
        public var count = 0
        public var confidenceSum = 0.0, correctCount = 0
        public var meanConfidence: Double { count == 0 ? 0 : confidenceSum / Double(count) }
        public var accuracy: Double { count == 0 ? 0 : Double(correctCount) / Double(count) }
    }

    public private(set) var bins: [Bin]

    public init(bins: Int = 15) { self.bins = Array(repeating: Bin(), count: bins) }

    public init(confidences: [Double], correct: [Bool], bins: Int = 15) {
        self.init(bins: bins)
        for (c, ok) in zip(confidences, correct) { add(confidence: c, correct: ok) }
    }

    public mutating func add(confidence: Double, correct: Bool) {
        let b = min(max(Int(confidence * Double(bins.count)), 0), bins.count - 1)
        bins[b].count += 1
        bins[b].confidenceSum += confidence
        bins[b].correctCount += correct ? 1 : 0
    }

    public var count: Int { bins.reduce(0) { $0 + $1.count } }

    /// Expected calibration error (0 for an empty set).
    public var expectedCalibrationError: Double {
        let n = Double(count)
        guard n > 0 else { return 0 }
        return bins.reduce(0.0) { $0 + Double($1.count) / n * abs($1.accuracy - $1.meanConfidence) }
    }

    public var json: [[String: Any]] {
        bins.enumerated().map { i, b in
            ["lower": Double(i) / Double(bins.count), "upper": Double(i + 1) / Double(bins.count), "count": b.count,
             "mean_confidence": b.meanConfidence, "accuracy": b.accuracy]
        }
    }
}

extension DecoderComparison {
    /// Each model's top-1 confidence against whether its top-1 token is the text's next token.
    public var calibration: (original: ReliabilityBins, compressed: ReliabilityBins) {
        var a = ReliabilityBins(), b = ReliabilityBins()
        for p in positions {
            a.add(confidence: p.confidenceOriginal, correct: p.top1Original == p.target)
            b.add(confidence: p.confidenceCompressed, correct: p.top1Compressed == p.target)
        }
        return (a, b)
    }
}
