import Foundation
import SlimCore

/// Turns text into token ids for an encoder.
public protocol TextTokenizer: Sendable {
    /// `[CLS] … [SEP]`-style ids, truncated to the model's maximum length.
    func encode(_ text: String) -> [Int32]
    var padID: Int32 { get }
}

/// How token states become one sentence vector (sentence-transformers' Pooling module).
public enum Pooling: String, Sendable {
    case mean, cls, max

    /// Reads `1_Pooling/config.json` (or the folder named in `modules.json`); mean when absent.
    public static func load(folder: URL) throws -> Pooling {
        let url = folder.appendingPathComponent("1_Pooling/config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return .mean }
        let o = try JSONFile.object(at: url)
        let modes: [(String, Pooling)] = [("pooling_mode_mean_tokens", .mean), ("pooling_mode_cls_token", .cls),
                                          ("pooling_mode_max_tokens", .max)]
        let chosen = modes.filter { (o[$0.0] as? Bool) == true }
        guard chosen.count == 1, let mode = chosen.first?.1 else {
            throw SlimError.unsupported(op: "load \(url.path)", backend: "model",
                                        reason: "exactly one of mean, CLS or max pooling must be enabled")
        }
        return mode
    }
}

/// One input text and its embedding.
public struct SentenceEmbedding: Sendable {
    public let text: String
    public let tokenIDs: [Int32]
    public let vector: [Float]
}

/// A sentence-transformers model: tokenizer, BERT encoder, pooling, and an
/// optional L2 normalisation, run like `SentenceTransformer.encode`.
public struct SentenceEmbedder: Sendable {
    public let encoder: BertEncoder
    public let tokenizer: any TextTokenizer
    public let pooling: Pooling
    public let normalize: Bool

    public init(encoder: BertEncoder, tokenizer: any TextTokenizer, pooling: Pooling = .mean, normalize: Bool = true) {
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
    }

    /// Embeds `texts` in batches of `batchSize`, longest first so each batch pads
    /// little; results come back in input order.
    public func embed(_ texts: [String], batchSize: Int = 32, progress: ((Int) -> Void)? = nil) throws -> [SentenceEmbedding] {
        let ids = texts.map(tokenizer.encode)
        let order = ids.indices.sorted { ids[$0].count > ids[$1].count }
        var vectors = [[Float]](repeating: [], count: texts.count)
        for start in stride(from: 0, to: order.count, by: max(1, batchSize)) {
            let members = Array(order[start..<min(order.count, start + max(1, batchSize))])
            let pooled = try embed(tokenized: members.map { ids[$0] })
            for (i, v) in zip(members, pooled) { vectors[i] = v }
            progress?(start + members.count)
        }
        return texts.indices.map { SentenceEmbedding(text: texts[$0], tokenIDs: ids[$0], vector: vectors[$0]) }
    }

    /// Pooled (and normalised) vectors of one batch of token sequences.
    public func embed(tokenized sequences: [[Int32]]) throws -> [[Float]] {
        let batch = EncoderBatch(sequences: sequences, padID: tokenizer.padID)
        let states = try encoder.backend.floats(try encoder.hiddenStates(batch))
        let width = encoder.config.hiddenSize
        return (0..<batch.batch).map { b in
            let rows = b * batch.sequence..<(b * batch.sequence + batch.lengths[b])
            var v = pool(states, rows: rows, width: width)
            if normalize {
                let norm = v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
                // sentence-transformers divides by max(‖v‖, 1e-12).
                v = v.map { Float(Double($0) / max(norm, 1e-12)) }
            }
            return v
        }
    }

    private func pool(_ states: [Float], rows: Range<Int>, width: Int) -> [Float] {
        switch pooling {
        case .cls:
            return Array(states[rows.lowerBound * width..<(rows.lowerBound + 1) * width])
        case .max:
            return (0..<width).map { e in rows.map { states[$0 * width + e] }.max() ?? 0 }
        case .mean:
            var sum = [Double](repeating: 0, count: width)
            for r in rows { for e in 0..<width { sum[e] += Double(states[r * width + e]) } }
            return sum.map { Float($0 / Double(max(rows.count, 1))) }
        }
    }
}
