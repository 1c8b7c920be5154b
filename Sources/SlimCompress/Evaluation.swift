import Foundation
import SlimCore
import SlimModel

/// How a compressed encoder compares with its original: embedding fidelity,
/// the Lee document-similarity benchmark for both, size and speed.
public struct EvaluationReport: Sendable {
    public let texts: Int
    public let meanCosine: Double, minCosine: Double
    public let spearmanOriginal: Double?, spearmanCompressed: Double?
    public let bytesOriginal: Int, bytesCompressed: Int
    public let textsPerSecondOriginal: Double, textsPerSecondCompressed: Double

    public var json: [String: Any] {
        var o: [String: Any] = [
            "texts": texts, "mean_cosine": meanCosine, "min_cosine": minCosine, "bytes_original": bytesOriginal,
            "bytes_compressed": bytesCompressed, "size_ratio": Double(bytesCompressed) / Double(max(bytesOriginal, 1)),
            "texts_per_s_original": textsPerSecondOriginal, "texts_per_s_compressed": textsPerSecondCompressed,
        ]
        o["spearman_original"] = spearmanOriginal
        o["spearman_compressed"] = spearmanCompressed
        return o
    }
}

public enum Evaluation {
    /// The Lee corpus of gensim's test data: 50 news documents and the mean of
    /// human similarity ratings for every pair.
    public struct LeeBenchmark: Sendable {
        public let documents: [String]
        public let ratings: [[Double]]

        public init(folder: URL) throws {
            // gensim ships lee.cor in Latin-1 (a £ sign), not UTF-8.
            let corpus = folder.appendingPathComponent("lee.cor")
            let data = try FileReading.data(atPath: corpus.path)
            guard let text = (try? TextInput.decodeUTF8(data, origin: corpus.path)) ?? String(data: data, encoding: .isoLatin1) else {
                throw SlimError.malformedFile(path: corpus.path, detail: "neither UTF-8 nor Latin-1 text")
            }
            documents = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            let table = try TextInput.lines(ofFile: folder.appendingPathComponent("similarities0-1.txt").path)
            ratings = table.map { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { Double($0) } }
            guard documents.count == ratings.count, ratings.allSatisfy({ $0.count == documents.count }) else {
                throw SlimError.malformedFile(path: folder.path, detail: "\(documents.count) Lee documents but a \(ratings.count)-row rating table")
            }
        }

        /// Spearman correlation of the model's cosine similarities with the human ratings, over all pairs.
        public func spearman(_ vectors: [[Float]]) -> Double {
            var model: [Double] = [], human: [Double] = []
            for i in 0..<documents.count {
                for j in i + 1..<documents.count {
                    model.append(cosine(vectors[i], vectors[j]))
                    human.append(max(ratings[i][j], ratings[j][i]))
                }
            }
            return Evaluation.spearman(model, human)
        }
    }

    public static var leeFolder: URL { CacheDirectory.root.appendingPathComponent("data/lee", isDirectory: true) }

    /// Compares two loaded embedders on `texts` (and on the Lee benchmark when `lee` is given).
    public static func compare(original: SentenceEmbedder, compressed: SentenceEmbedder, texts: [String],
                               lee: LeeBenchmark?, bytesOriginal: Int, bytesCompressed: Int) throws -> EvaluationReport {
        try compare(EmbeddingPairs(original: original, compressed: compressed, texts: texts), original: original, compressed: compressed,
                    texts: texts, lee: lee, bytesOriginal: bytesOriginal, bytesCompressed: bytesCompressed)
    }

    /// The report of `pairs`, the models' vectors of `texts`; the Lee documents reuse them when they are those texts.
    static func compare(_ pairs: EmbeddingPairs, original: SentenceEmbedder, compressed: SentenceEmbedder, texts: [String],
                        lee: LeeBenchmark?, bytesOriginal: Int, bytesCompressed: Int) throws -> EvaluationReport {
        var spearmanA: Double?, spearmanB: Double?
        if let lee {
            // Cosine similarity ignores the vectors' lengths, so the unnormalised pairs serve.
            let same = texts == lee.documents
            spearmanA = lee.spearman(same ? pairs.original : try original.embed(lee.documents).map(\.vector))
            spearmanB = lee.spearman(same ? pairs.compressed : try compressed.embed(lee.documents).map(\.vector))
        }
        return EvaluationReport(texts: texts.count, meanCosine: pairs.meanCosine, minCosine: pairs.cosines.min() ?? 0,
                                spearmanOriginal: spearmanA, spearmanCompressed: spearmanB,
                                bytesOriginal: bytesOriginal, bytesCompressed: bytesCompressed,
                                textsPerSecondOriginal: Double(texts.count) / max(pairs.secondsOriginal, 1e-9),
                                textsPerSecondCompressed: Double(texts.count) / max(pairs.secondsCompressed, 1e-9))
    }

    public static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
        return dot / max((na * nb).squareRoot(), .leastNormalMagnitude)
    }

    /// Spearman's rank correlation: Pearson's over ranks, ties taking their mean rank.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        pearson(ranks(x), ranks(y))
    }

    static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count), i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count), mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxy / max((sxx * syy).squareRoot(), .leastNormalMagnitude)
    }
}

private func cosine(_ a: [Float], _ b: [Float]) -> Double { Evaluation.cosine(a, b) }
