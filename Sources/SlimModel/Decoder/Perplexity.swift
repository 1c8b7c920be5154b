import Foundation
import SlimCore
import SlimParallel

/// Perplexity the way llama.cpp's `llama-perplexity` measures it.
public struct PerplexityResult: Sendable {
    public let perplexity: Double
    public let tokensScored: Int
    /// The negative log-likelihood (nats) of every scored token, in text order.
    public let tokenNLL: [Double]
    /// The perplexity over the chunks so far, after each chunk.
    public let running: [Double]
    public let seconds: Double
    /// Tokens evaluated (scored or not) per second.
    public let tokensPerSecond: Double
}

/// The chunks llama-perplexity evaluates: `tokens` cut into consecutive
/// chunks of `context` tokens, each run from scratch, with only the second
/// half of each scored (every scored position sees at least `context/2`
/// tokens of history). With `bos` (a model whose tokenizer adds BOS), each
/// chunk's first token is replaced by it, as llama.cpp does.
/// Perplexity and the comparison of two decoders both walk these chunks, so
/// they score the very same positions.
public struct PerplexityChunks: Sendable {
    public let context: Int
    /// How many chunks are evaluated.
    public let count: Int
    private let tokens: [Int32]
    private let bos: Int32?

    /// `limit`: the model's context length.
    public init(tokens: [Int32], context: Int, chunks: Int?, bos: Int32?, limit: Int) throws {
        guard context >= 16, context <= limit else {
            throw SlimError.invalidArgument("--ctx \(context): the model takes 16...\(limit)")
        }
        if let chunks, chunks < 1 { throw SlimError.invalidArgument("--chunks \(chunks): at least 1") }
        let available = tokens.count / context
        guard available >= 1 else {
            throw SlimError.invalidArgument("the text has \(tokens.count) tokens; perplexity needs at least one chunk of \(context)")
        }
        self.context = context
        self.count = min(available, chunks ?? available)
        self.tokens = tokens
        self.bos = bos
    }

    /// The token ids chunk `index` runs.
    public func ids(_ index: Int) -> [Int32] {
        var ids = Array(tokens[index * context..<(index + 1) * context])
        if let bos { ids[0] = bos }
        return ids
    }

    /// The rows of a chunk whose logits are scored: row `r` predicts `ids[r + 1]`.
    public var scoredRows: Range<Int> { context / 2..<context - 1 }

    /// Tokens scored over all chunks.
    public var scoredCount: Int { count * scoredRows.count }
}

extension DecoderModel {
    /// Perplexity over ``PerplexityChunks``: PPL = exp(mean negative
    /// log-likelihood of the scored tokens). Over several ranks each evaluates its
    /// contiguous share of the chunks and every rank gathers every chunk's
    /// negative log-likelihoods (copied, not summed), so the result is the same
    /// bits as one process's; `progress` counts this rank's chunks.
    public func perplexity(tokens: [Int32], context: Int = 512, chunks: Int? = nil, bos: Int32? = nil,
                           collective: any Collective = SingleProcess(),
                           progress: ((Int, Int) -> Void)? = nil) throws -> PerplexityResult {
        let plan = try PerplexityChunks(tokens: tokens, context: context, chunks: chunks, bos: bos, limit: config.contextLength)
        let mine = collective.share(of: plan.count), perChunk = plan.scoredRows.count
        var nll: [Double] = []
        nll.reserveCapacity(plan.scoredCount)
        let start = Date()
        for chunk in mine {
            let ids = plan.ids(chunk)
            let logits = try scoredLogits(ids, rows: plan.scoredRows)
            let vocab = config.vocabSize
            for (row, position) in plan.scoredRows.enumerated() {
                nll.append(negativeLogLikelihood(logits[row * vocab..<(row + 1) * vocab], target: Int(ids[position + 1])))
            }
            progress?(chunk - mine.lowerBound + 1, mine.count)
        }
        if collective.size > 1 {
            // Shares differ by at most one chunk: pad to the largest, then keep each rank's own count.
            let most = Self.largestShare(plan.count, ranks: collective.size) * perChunk
            let all = try collective.allGather(nll + [Double](repeating: 0, count: most - nll.count), step: "gathering perplexity chunks")
            nll = all.enumerated().flatMap { r, values in values.prefix(SingleProcess.share(of: plan.count, rank: r, size: collective.size).count * perChunk) }
        }
        var running: [Double] = [], sum = 0.0
        for (i, value) in nll.enumerated() {
            sum += value
            if (i + 1) % perChunk == 0 { running.append(exp(sum / Double(i + 1))) }
        }
        let seconds = Date().timeIntervalSince(start)
        return PerplexityResult(perplexity: exp(sum / Double(nll.count)), tokensScored: nll.count, tokenNLL: nll,
                                running: running, seconds: seconds, tokensPerSecond: Double(plan.count * context) / seconds)
    }

    static func largestShare(_ count: Int, ranks: Int) -> Int { (count + ranks - 1) / ranks }

    /// Runs `ids` as one sequence and returns the logits of `rows`, `[rows.count × vocab]` on the host.
    public func scoredLogits(_ ids: [Int32], rows: Range<Int>) throws -> [Float] {
        try backend.floats(try logits(try hiddenStates(ids), rows: rows))
    }
}

/// `log Σ exp(z) − z[target]`, in double.
func negativeLogLikelihood(_ logits: ArraySlice<Float>, target: Int) -> Double {
    let peak = Double(logits.max() ?? 0)
    var sum = 0.0
    for z in logits { sum += exp(Double(z) - peak) }
    return peak + log(sum) - Double(logits[logits.startIndex + target])
}
