import Foundation
import SlimCore

/// Perplexity the way llama.cpp's `llama-perplexity` measures it.
public struct PerplexityResult: Sendable {
    public let perplexity: Double
    public let tokensScored: Int
    /// The perplexity over the chunks so far, after each chunk.
    public let running: [Double]
    public let seconds: Double
    /// Tokens evaluated (scored or not) per second.
    public let tokensPerSecond: Double
}

extension DecoderModel {
    /// Splits `tokens` into consecutive chunks of `context` tokens, evaluates
    /// each from scratch, and scores the second half of each chunk (every
    /// position sees at least `context/2` tokens of history):
    /// PPL = exp(mean negative log-likelihood of the scored tokens).
    /// With `bos` (a model whose tokenizer adds BOS), each chunk's first token
    /// is replaced by it, as llama.cpp does.
    public func perplexity(tokens: [Int32], context: Int = 512, chunks: Int? = nil, bos: Int32? = nil,
                           progress: ((Int, Int) -> Void)? = nil) throws -> PerplexityResult {
        guard context >= 16, context <= config.contextLength else {
            throw SlimError.invalidArgument("--ctx \(context): the model takes 16...\(config.contextLength)")
        }
        if let chunks, chunks < 1 { throw SlimError.invalidArgument("--chunks \(chunks): at least 1") }
        let available = tokens.count / context
        guard available >= 1 else {
            throw SlimError.invalidArgument("the text has \(tokens.count) tokens; perplexity needs at least one chunk of \(context)")
        }
        let count = min(available, chunks ?? available)
        let first = context / 2
        var nll = 0.0, scored = 0
        var running: [Double] = []
        let start = Date()
        for chunk in 0..<count {
            var ids = Array(tokens[chunk * context..<(chunk + 1) * context])
            if let bos { ids[0] = bos }
            let hidden = try hiddenStates(ids)
            let logits = try backend.floats(try self.logits(hidden, rows: first..<context - 1))
            let vocab = config.vocabSize
            for (row, position) in (first..<context - 1).enumerated() {
                nll += negativeLogLikelihood(logits[row * vocab..<(row + 1) * vocab], target: Int(ids[position + 1]))
                scored += 1
            }
            running.append(exp(nll / Double(scored)))
            progress?(chunk + 1, count)
        }
        let seconds = Date().timeIntervalSince(start)
        return PerplexityResult(perplexity: exp(nll / Double(scored)), tokensScored: scored, running: running,
                                seconds: seconds, tokensPerSecond: Double(count * context) / seconds)
    }
}

/// `log Σ exp(z) − z[target]`, in double.
func negativeLogLikelihood(_ logits: ArraySlice<Float>, target: Int) -> Double {
    let peak = Double(logits.max() ?? 0)
    var sum = 0.0
    for z in logits { sum += exp(Double(z) - peak) }
    return peak + log(sum) - Double(logits[logits.startIndex + target])
}
