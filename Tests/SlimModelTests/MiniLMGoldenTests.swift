import Foundation
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// all-MiniLM-L6-v2 end to end against the sentence-transformers golden file:
/// identical token ids and cosine ≥ 0.9999 per sentence, on every backend.
@Suite(.serialized) struct MiniLMGoldenTests {
    struct Golden: Decodable {
        let sentences: [String]
        let input_ids: [[Int32]]
        let embeddings: [[Float]]
    }

    static func golden() throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: try TestAssets.miniLMGolden))
    }

    @Test(arguments: ["cpu", "opencl"])
    func embeddingsMatchSentenceTransformers(_ backendName: String) throws {
        let golden = try Self.golden()
        let embedder = try SentenceEmbedder.load(folder: try TestAssets.miniLM, backend: try TestBackends.named(backendName))
        // Batches of 5 mix lengths, so padding and key masking are exercised.
        let results = try embedder.embed(golden.sentences, batchSize: 5)
        var worst = 1.0
        for (i, r) in results.enumerated() {
            #expect(r.tokenIDs == golden.input_ids[i], "token ids of '\(golden.sentences[i])'")
            let c = cosine(r.vector, golden.embeddings[i])
            worst = min(worst, c)
            #expect(c >= 0.9999, "'\(golden.sentences[i])' on \(backendName): cosine \(c)")
        }
        print("MiniLM golden on \(backendName): worst cosine \(worst) over \(results.count) sentences")
    }

    @Test func batchingDoesNotChangeEmbeddings() throws {
        let golden = try Self.golden()
        let embedder = try SentenceEmbedder.load(folder: try TestAssets.miniLM, backend: CPUBackend())
        let one = try embedder.embed(Array(golden.sentences.prefix(6)), batchSize: 1)
        let all = try embedder.embed(Array(golden.sentences.prefix(6)), batchSize: 6)
        #expect(one.count == 6 && all.count == 6, "one result per sentence")
        for (a, b) in zip(one, all) { #expect(cosine(a.vector, b.vector) > 0.999999) }
    }

    @Test func int8WeightsStayClose() throws {
        let golden = try Self.golden()
        let embedder = try SentenceEmbedder.load(folder: try TestAssets.miniLM, backend: CPUBackend(),
                                                 quantization: LinearQuantization(format: .int8PerChannel, activations: .int8PerRow))
        let results = try embedder.embed(golden.sentences)
        let worst = zip(results, golden.embeddings).map { cosine($0.vector, $1) }.min() ?? 0
        print("MiniLM W8A8: worst cosine \(worst)")
        #expect(worst > 0.98, "int8 weights and activations should keep cosine above 0.98, got \(worst)")
    }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
    return a.count == b.count ? dot / (na * nb).squareRoot() : 0
}
