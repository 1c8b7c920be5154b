import Foundation
import SlimCore
import SlimModel
import SlimParallel

/// A sequence run from scratch, and the rows of it that are scored: row `r` predicts `ids[r + 1]`.
public struct ScoredWindow: Sendable {
    public let ids: [Int32]
    public let rows: Range<Int>

    public init(ids: [Int32], rows: Range<Int>) {
        precondition(rows.lowerBound >= 0 && rows.upperBound < ids.count)
        self.ids = ids
        self.rows = rows
    }

    /// `chunks`' windows: the same positions `slim perplexity` scores.
    public static func chunks(_ chunks: PerplexityChunks) -> [ScoredWindow] {
        (0..<chunks.count).map { ScoredWindow(ids: chunks.ids($0), rows: chunks.scoredRows) }
    }

    /// One text on its own from its first token (after `bos`), cut to `context`; every
    /// position is scored. Nil when it has fewer than two tokens, so nothing to predict.
    public static func text(_ tokens: [Int32], bos: Int32?, context: Int) -> ScoredWindow? {
        let ids = Array(((bos.map { [$0] } ?? []) + tokens).prefix(context))
        return ids.count >= 2 ? ScoredWindow(ids: ids, rows: 0..<ids.count - 1) : nil
    }
}

/// Two decoders run over the same windows, position by position.
public struct DecoderComparisonRun: Sendable {
    public let comparison: DecoderComparison
    public let windows: [ScoredWindow]
    /// For each compared position, its window and row.
    public let origins: [(window: Int, row: Int)]
    /// Tokens evaluated (scored or not) per second of each model's forward passes.
    public let tokensPerSecondOriginal: Double, tokensPerSecondCompressed: Double

    public var chunks: Int { windows.count }
}

extension Evaluation {
    /// Runs `original` and `compressed` on every chunk of `tokens` (``PerplexityChunks``)
    /// and compares their next-token distributions at the scored positions.
    public static func compare(original: DecoderModel, compressed: DecoderModel, tokens: [Int32], context: Int, chunks: Int?,
                               bos: Int32?, collective: any Collective = SingleProcess(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> DecoderComparisonRun {
        let limit = min(original.config.contextLength, compressed.config.contextLength)
        let plan = try PerplexityChunks(tokens: tokens, context: context, chunks: chunks, bos: bos, limit: limit)
        return try compare(original: original, compressed: compressed, windows: ScoredWindow.chunks(plan), collective: collective,
                           progress: progress)
    }

    /// Runs both models on each window and compares them at its scored rows.
    /// Only one window's logits per model are held at a time. Over several ranks each runs its
    /// contiguous share of the windows and every rank gathers every position's comparison
    /// (copied, not summed), so the comparison is the same bits as one process's; `progress`
    /// counts this rank's windows.
    public static func compare(original: DecoderModel, compressed: DecoderModel, windows: [ScoredWindow],
                               collective: any Collective = SingleProcess(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> DecoderComparisonRun {
        let vocab = original.config.vocabSize
        guard compressed.config.vocabSize == vocab else {
            throw SlimError.invalidArgument("the models' vocabularies differ (\(vocab) and \(compressed.config.vocabSize) tokens): their next-token distributions cannot be compared")
        }
        var comparison = DecoderComparison()
        var secondsA = 0.0, secondsB = 0.0, evaluated = 0
        let mine = collective.share(of: windows.count)
        for w in mine {
            let window = windows[w]
            var start = Date()
            let a = try original.scoredLogits(window.ids, rows: window.rows)
            secondsA += Date().timeIntervalSince(start)
            start = Date()
            let b = try compressed.scoredLogits(window.ids, rows: window.rows)
            secondsB += Date().timeIntervalSince(start)
            comparison.append(original: a, compressed: b, vocab: vocab, targets: window.ids[window.rows.lowerBound + 1..<window.rows.upperBound + 1])
            evaluated += window.ids.count
            progress?(w - mine.lowerBound + 1, mine.count)
        }
        if collective.size > 1 {
            let all = try collective.allGatherVarying(comparison.positions.flatMap(\.exchanged), step: "gathering the compared positions")
            comparison = DecoderComparison()
            for values in all {
                for i in stride(from: 0, to: values.count, by: PositionComparison.exchangedCount) {
                    comparison.append(PositionComparison(exchanged: values[i..<i + PositionComparison.exchangedCount]))
                }
            }
            // The job's throughput: every rank's tokens over the slowest rank's time.
            let times = try collective.allGather([Double(evaluated), secondsA, secondsB], step: "gathering evaluation times")
            evaluated = Int(times.reduce(0) { $0 + $1[0] })
            (secondsA, secondsB) = (times.map { $0[1] }.max()!, times.map { $0[2] }.max()!)
        }
        let origins = windows.enumerated().flatMap { w, window in window.rows.map { (window: w, row: $0) } }
        return DecoderComparisonRun(comparison: comparison, windows: windows, origins: origins,
                                    tokensPerSecondOriginal: Double(evaluated) / max(secondsA, 1e-9),
                                    tokensPerSecondCompressed: Double(evaluated) / max(secondsB, 1e-9))
    }
}

extension DecoderComparison {
    /// The headline figures, as `slim eval --json` names them.
    public var figures: [String: Double] {
        ["ppl_original": perplexityOriginal, "ppl_compressed": perplexityCompressed, "tokens_scored": Double(count),
         "kl_divergence_mean": klMean, "kl_divergence_p99": klP99, "kl_divergence_max": klMax,
         "top1_agreement": top1Agreement, "delta_p_mean": deltaPMean]
    }

    /// ``figures`` with the count as an integer.
    public var summary: [String: Any] {
        var o: [String: Any] = figures
        o["tokens_scored"] = count
        return o
    }
}
