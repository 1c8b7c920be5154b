import Foundation
import SlimCore
import SlimModel

/// Two encoders' pooled vectors for the same texts, taken before any L2
/// normalisation: the cosine between them is the same either way, and each
/// vector's length is kept (a compressed encoder that shrinks or inflates its
/// outputs shows there before its cosine drops).
struct EmbeddingPairs {
    let original: [[Float]], compressed: [[Float]]
    let cosines: [Double]
    let secondsOriginal: Double, secondsCompressed: Double

    /// `progress`: texts embedded so far of both models' 2·`texts.count`.
    init(original a: SentenceEmbedder, compressed b: SentenceEmbedder, texts: [String], progress: ((Int, Int) -> Void)? = nil) throws {
        func timed(_ e: SentenceEmbedder, offset: Int) throws -> ([[Float]], Double) {
            let start = Date()
            let raw = SentenceEmbedder(encoder: e.encoder, tokenizer: e.tokenizer, pooling: e.pooling, normalize: false)
            let v = try raw.embed(texts) { progress?(offset + $0, 2 * texts.count) }.map(\.vector)
            return (v, Date().timeIntervalSince(start))
        }
        (original, secondsOriginal) = try timed(a, offset: 0)
        (compressed, secondsCompressed) = try timed(b, offset: texts.count)
        cosines = zip(original, compressed).map { Evaluation.cosine($0, $1) }
    }

    var meanCosine: Double { cosines.reduce(0, +) / Double(max(cosines.count, 1)) }

    /// Mean and worst cosine and the number of texts, as the JSON and the card name them.
    var figures: [String: Double] { ["mean_cosine": meanCosine, "min_cosine": cosines.min() ?? 0, "texts": Double(cosines.count)] }

    static func norm(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
}
