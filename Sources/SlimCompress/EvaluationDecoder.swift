import Foundation
import SlimCore
import SlimModel

/// Two decoders run over the same chunks of one text (``PerplexityChunks``,
/// as `slim perplexity` scores them), position by position.
public struct DecoderComparisonRun: Sendable {
    public let comparison: DecoderComparison
    public let chunks: Int
    public let context: Int
    /// Tokens evaluated (scored or not) per second of each model's forward passes.
    public let tokensPerSecondOriginal: Double, tokensPerSecondCompressed: Double
}

extension Evaluation {
    /// Runs `original` and `compressed` on every chunk of `tokens` and compares
    /// their next-token distributions at the scored positions. Only one
    /// chunk's logits per model are held at a time.
    public static func compare(original: LlamaModel, compressed: LlamaModel, tokens: [Int32], context: Int, chunks: Int?,
                               bos: Int32?, progress: ((Int, Int) -> Void)? = nil) throws -> DecoderComparisonRun {
        let vocab = original.config.vocabSize
        guard compressed.config.vocabSize == vocab else {
            throw SlimError.invalidArgument("the models' vocabularies differ (\(vocab) and \(compressed.config.vocabSize) tokens): their next-token distributions cannot be compared")
        }
        let limit = min(original.config.contextLength, compressed.config.contextLength)
        let plan = try PerplexityChunks(tokens: tokens, context: context, chunks: chunks, bos: bos, limit: limit)
        var comparison = DecoderComparison()
        var secondsA = 0.0, secondsB = 0.0
        for chunk in 0..<plan.count {
            let ids = plan.ids(chunk)
            var start = Date()
            let a = try original.scoredLogits(ids, rows: plan.scoredRows)
            secondsA += Date().timeIntervalSince(start)
            start = Date()
            let b = try compressed.scoredLogits(ids, rows: plan.scoredRows)
            secondsB += Date().timeIntervalSince(start)
            comparison.append(original: a, compressed: b, vocab: vocab, targets: ids[plan.scoredRows.lowerBound + 1..<plan.scoredRows.upperBound + 1])
            progress?(chunk + 1, plan.count)
        }
        let evaluated = Double(plan.count * context)
        return DecoderComparisonRun(comparison: comparison, chunks: plan.count, context: context,
                                    tokensPerSecondOriginal: evaluated / max(secondsA, 1e-9),
                                    tokensPerSecondCompressed: evaluated / max(secondsB, 1e-9))
    }
}
