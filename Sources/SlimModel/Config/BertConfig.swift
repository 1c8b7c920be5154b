import Foundation
import SlimCore

/// The hyper-parameters of a BERT encoder (`model_type: bert`).
public struct BertConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var layerNormEpsilon: Float
    /// Heads removed from each layer (Hugging Face's `pruned_heads`: layer → indices
    /// among the original `heads`). A pruned layer's Q, K and V have
    /// `heads(inLayer:) · headDim` rows, the kept heads in their original order.
    public var prunedHeads: [Int: [Int]]
    /// The MLP width of each layer after structured pruning (Slim's
    /// `slim_intermediate_sizes`); nil: every layer as wide as `intermediateSize`
    /// or, for a model pruned elsewhere, as wide as its weights.
    public var intermediateSizes: [Int]?

    /// The width of one head; pruning removes heads, never narrows them.
    public var headDim: Int { hiddenSize / heads }

    /// The attention heads layer `layer` keeps.
    public func heads(inLayer layer: Int) -> Int { heads - (prunedHeads[layer]?.count ?? 0) }

    public init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maxPositions: Int, typeVocabSize: Int, layerNormEpsilon: Float,
                prunedHeads: [Int: [Int]] = [:], intermediateSizes: [Int]? = nil) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.layers = layers; self.heads = heads
        self.intermediateSize = intermediateSize; self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize; self.layerNormEpsilon = layerNormEpsilon
        self.prunedHeads = prunedHeads; self.intermediateSizes = intermediateSizes
    }

    init(_ o: [String: Any], file: URL) throws {
        vocabSize = try JSONFile.int(o, "vocab_size", file: file)
        hiddenSize = try JSONFile.int(o, "hidden_size", file: file)
        layers = try JSONFile.int(o, "num_hidden_layers", file: file)
        heads = try JSONFile.int(o, "num_attention_heads", file: file)
        intermediateSize = try JSONFile.int(o, "intermediate_size", file: file)
        maxPositions = try JSONFile.int(o, "max_position_embeddings", file: file, default: 512)
        typeVocabSize = try JSONFile.int(o, "type_vocab_size", file: file, default: 2)
        let epsilon = try JSONFile.double(o, "layer_norm_eps", file: file, default: 1e-12)
        layerNormEpsilon = Float(epsilon)
        let act = o["hidden_act"] as? String ?? "gelu"
        let position = o["position_embedding_type"] as? String ?? "absolute"
        guard act == "gelu", position == "absolute" else {
            throw SlimError.unsupported(op: "load \(file.path)", backend: "model",
                                        reason: "BERT with hidden_act '\(act)' and position_embedding_type '\(position)' (Slim runs gelu, absolute)")
        }
        let check = ConfigCheck(path: file.path)
        for (value, key) in [(vocabSize, "vocab_size"), (hiddenSize, "hidden_size"), (layers, "num_hidden_layers"),
                             (heads, "num_attention_heads"), (intermediateSize, "intermediate_size"),
                             (maxPositions, "max_position_embeddings"), (typeVocabSize, "type_vocab_size")] {
            try check.positive(value, key)
        }
        try check.divides(heads, "num_attention_heads", hiddenSize, "hidden_size")
        try check.positiveFinite(layerNormEpsilon, "layer_norm_eps", given: epsilon)
        prunedHeads = try Self.prunedHeads(o["pruned_heads"], layers: layers, heads: heads, file: file)
        if let sizes = o["slim_intermediate_sizes"] {
            guard let list = sizes as? [NSNumber], list.count == layers,
                  list.allSatisfy({ $0.doubleValue == $0.doubleValue.rounded() && $0.intValue > 0 }) else {
                throw SlimError.malformedFile(path: file.path, detail: "'slim_intermediate_sizes' must list \(layers) positive integers, one per layer")
            }
            intermediateSizes = list.map(\.intValue)
        } else {
            intermediateSizes = nil
        }
    }

    /// `{"layer": [head, …]}` as Hugging Face writes `pruned_heads` (string keys in JSON).
    private static func prunedHeads(_ value: Any?, layers: Int, heads: Int, file: URL) throws -> [Int: [Int]] {
        guard let value else { return [:] }
        func bad(_ why: String) -> SlimError { .malformedFile(path: file.path, detail: "'pruned_heads': \(why)") }
        guard let object = value as? [String: Any] else { throw bad("expected {\"layer\": [head indices]}") }
        var result: [Int: [Int]] = [:]
        for (key, list) in object {
            guard let layer = Int(key), (0..<layers).contains(layer) else { throw bad("'\(key)' is not a layer in 0..<\(layers)") }
            guard let numbers = list as? [NSNumber], numbers.allSatisfy({ $0.doubleValue == $0.doubleValue.rounded() }) else {
                throw bad("layer \(layer): expected a list of head indices")
            }
            let indices = Set(numbers.map(\.intValue))
            guard indices.allSatisfy({ (0..<heads).contains($0) }), indices.count == numbers.count else {
                throw bad("layer \(layer): head indices \(numbers) must be distinct and in 0..<\(heads)")
            }
            guard indices.count < heads else { throw bad("layer \(layer) would keep none of its \(heads) heads") }
            if !indices.isEmpty { result[layer] = indices.sorted() }
        }
        return result
    }
}
