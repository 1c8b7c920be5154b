import Foundation
import SlimCore
import SlimModel

/// One text whose compressed embedding departs most from the original's: the cosine
/// between them, each vector's length before normalisation, and the text each model
/// puts nearest to it among the evaluated texts (what a search by that embedding returns).
public struct EncoderWorstCase: Sendable {
    public let text: String
    /// Where the text comes from: "data" (the main texts) or a slice's name.
    public let source: String
    public let cosine: Double
    public let normOriginal: Double, normCompressed: Double
    public let nearestOriginal: String?, nearestCompressed: String?

    public var json: [String: Any] {
        var o: [String: Any] = ["text": text, "source": source, "cosine": cosine, "norm_original": normOriginal, "norm_compressed": normCompressed]
        o["nearest_original"] = nearestOriginal
        o["nearest_compressed"] = nearestCompressed
        return o
    }
}

/// Everything `slim eval` measures on two encoders (issue 22).
public struct EncoderEvaluationReport: Sendable {
    /// The headline figures on the main texts (cosine, Lee Spearman, sizes, speed).
    public let main: EvaluationReport
    public let slices: [SliceRow]
    public let robustness: [RobustnessRow]
    public let worst: [EncoderWorstCase]

    /// Why an encoder's evaluation carries no calibration error, said in the JSON and the card rather than left out.
    public static let calibrationNote = "does not apply to an encoder: a sentence embedding has no predicted probabilities to be calibrated (ECE is measured on decoders' next-token confidence)"
}

/// Runs the evaluation of issue 22 on two sentence embedders sharing a tokenizer.
public struct EncoderEvaluator {
    public let original: SentenceEmbedder, compressed: SentenceEmbedder
    public var lee: Evaluation.LeeBenchmark?
    public var slices: SliceChoice?
    /// At most this many texts per slice, evenly spaced through it (all when nil).
    public var maxPerSlice: Int?
    public var perturbations: [Perturbation] = []
    public var seed: UInt64 = 0
    public var worstCount = 5
    public var bytesOriginal = 0, bytesCompressed = 0

    public init(original: SentenceEmbedder, compressed: SentenceEmbedder) {
        (self.original, self.compressed) = (original, compressed)
    }

    /// `texts` are the main texts (also what `--slices by-length` buckets and what is
    /// perturbed). `progress`: the stage, and texts embedded of its total.
    public func run(texts: [String], progress: ((String, Int, Int) -> Void)? = nil) throws -> EncoderEvaluationReport {
        let pairs = try EmbeddingPairs(original: original, compressed: compressed, texts: texts) { progress?("texts", $0, $1) }
        let main = try Evaluation.compare(pairs, original: original, compressed: compressed, texts: texts, lee: lee,
                                          bytesOriginal: bytesOriginal, bytesCompressed: bytesCompressed)
        var pool = Pool()
        pool.add(pairs, texts: texts, source: "data")
        let rows = try slices.map { try sliceRows($0, texts: texts, pool: &pool, progress: progress) } ?? []
        var robustness: [RobustnessRow] = []
        for p in perturbations {
            // Each text its own stream of the seed, so one text's perturbation does not depend on the others'.
            let perturbed = texts.enumerated().map { p.apply($1, seed: seed &+ UInt64($0)) }
            let run = try EmbeddingPairs(original: original, compressed: compressed, texts: perturbed) { progress?("texts (\(p.rawValue))", $0, $1) }
            // How far the perturbation moves the original itself, to read the compressed model's departure against.
            let shift = zip(pairs.original, run.original).map { Evaluation.cosine($0, $1) }
            var figures = run.figures
            figures["original_clean_cosine"] = shift.reduce(0, +) / Double(max(shift.count, 1))
            robustness.append(RobustnessRow(perturbation: p.rawValue, clean: pairs.figures, perturbed: figures, skipped: nil))
        }
        return EncoderEvaluationReport(main: main, slices: rows, robustness: robustness, worst: pool.worst(worstCount))
    }

    /// Whether a text gives the encoder anything beyond its special tokens
    /// (a line of control characters, which BERT's tokenizer drops, does not).
    func usable(_ text: String) -> Bool { original.tokenizer.encode(text).count > bareLength }
    private var bareLength: Int { original.tokenizer.encode("").count }

    /// Each slice's texts compared on their own; a slice without a usable text is a reported skip.
    func sliceRows(_ choice: SliceChoice, texts: [String], pool: inout Pool, progress: ((String, Int, Int) -> Void)?) throws -> [SliceRow] {
        let slices: [TextSlice]
        switch choice {
        case .folder(let url): slices = try EvaluationSlices.folder(url)
        case .byLength: slices = EvaluationSlices.byLength(texts) { original.tokenizer.encode($0).count }
        }
        var rows: [SliceRow] = [], cosineSum = 0.0, count = 0
        for slice in slices {
            if let problem = slice.problem {
                rows.append(SliceRow(name: slice.name, degradation: nil, figures: [:], skipped: problem))
                continue
            }
            let usable = slice.texts.filter(usable)
            guard !usable.isEmpty else {
                rows.append(SliceRow(name: slice.name, degradation: nil, figures: [:],
                                     skipped: "none of its \(slice.texts.count) texts has a token to embed"))
                continue
            }
            let chosen = Self.evenlySpaced(usable, limit: maxPerSlice)
            let pairs = try EmbeddingPairs(original: original, compressed: compressed, texts: chosen) {
                progress?("texts (slice \(slice.name))", $0, $1)
            }
            pool.add(pairs, texts: chosen, source: slice.name)
            cosineSum += pairs.cosines.reduce(0, +)
            count += pairs.cosines.count
            var figures = pairs.figures
            figures["texts_in_slice"] = Double(usable.count)
            rows.append(SliceRow(name: slice.name, degradation: 1 - pairs.meanCosine, figures: figures))
        }
        return EvaluationSlices.flag(rows, overall: count == 0 ? 0 : 1 - cosineSum / Double(count))
    }

    /// `limit` of `texts` at even steps through them (all when `limit` is nil or not smaller).
    static func evenlySpaced(_ texts: [String], limit: Int?) -> [String] {
        guard let limit, limit < texts.count else { return texts }
        return (0..<max(limit, 1)).map { texts[$0 * texts.count / max(limit, 1)] }
    }

    /// Every text embedded on clean input, with both models' vectors, for the worst cases and their neighbours.
    struct Pool {
        var texts: [String] = [], sources: [String] = [], original: [[Float]] = [], compressed: [[Float]] = [], cosines: [Double] = []

        mutating func add(_ pairs: EmbeddingPairs, texts: [String], source: String) {
            self.texts += texts
            sources += Array(repeating: source, count: texts.count)
            original += pairs.original
            compressed += pairs.compressed
            cosines += pairs.cosines
        }

        /// The `k` texts of lowest cosine, each with its nearest other text by each model.
        func worst(_ k: Int) -> [EncoderWorstCase] {
            let order = cosines.indices.sorted { cosines[$0] < cosines[$1] }
            return order.prefix(max(k, 0)).map { i in
                EncoderWorstCase(text: texts[i], source: sources[i], cosine: cosines[i], normOriginal: EmbeddingPairs.norm(original[i]),
                                 normCompressed: EmbeddingPairs.norm(compressed[i]), nearestOriginal: nearest(to: i, in: original),
                                 nearestCompressed: nearest(to: i, in: compressed))
            }
        }

        /// The text other than `i` (and other than a copy of it) whose vector is closest to `i`'s by cosine.
        func nearest(to i: Int, in vectors: [[Float]]) -> String? {
            let others = vectors.indices.filter { $0 != i && texts[$0] != texts[i] }
            return others.max { Evaluation.cosine(vectors[i], vectors[$0]) < Evaluation.cosine(vectors[i], vectors[$1]) }.map { texts[$0] }
        }
    }
}

extension EncoderEvaluationReport {
    public var json: [String: Any] {
        var o = main.json
        if !slices.isEmpty {
            o["slices"] = slices.map(\.json)
            o["slice_flag_rule"] = "1 - mean cosine above \(EvaluationSlices.flagFactor)x the one pooled over all slices' texts"
        }
        if !robustness.isEmpty { o["robustness"] = robustness.map(\.json) }
        o["calibration"] = ["applies": false, "note": Self.calibrationNote]
        o["worst"] = worst.map(\.json)
        return o
    }
}
