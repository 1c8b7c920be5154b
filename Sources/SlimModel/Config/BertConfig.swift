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

    public var headDim: Int { hiddenSize / heads }

    public init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maxPositions: Int, typeVocabSize: Int, layerNormEpsilon: Float) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.layers = layers; self.heads = heads
        self.intermediateSize = intermediateSize; self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize; self.layerNormEpsilon = layerNormEpsilon
    }

    init(_ o: [String: Any], file: URL) throws {
        vocabSize = try JSONFile.int(o, "vocab_size", file: file)
        hiddenSize = try JSONFile.int(o, "hidden_size", file: file)
        layers = try JSONFile.int(o, "num_hidden_layers", file: file)
        heads = try JSONFile.int(o, "num_attention_heads", file: file)
        intermediateSize = try JSONFile.int(o, "intermediate_size", file: file)
        maxPositions = try JSONFile.int(o, "max_position_embeddings", file: file, default: 512)
        typeVocabSize = try JSONFile.int(o, "type_vocab_size", file: file, default: 2)
        layerNormEpsilon = Float(try JSONFile.double(o, "layer_norm_eps", file: file, default: 1e-12))
        let act = o["hidden_act"] as? String ?? "gelu"
        let position = o["position_embedding_type"] as? String ?? "absolute"
        guard act == "gelu", position == "absolute" else {
            throw SlimError.unsupported(op: "load \(file.path)", backend: "model",
                                        reason: "BERT with hidden_act '\(act)' and position_embedding_type '\(position)' (Slim runs gelu, absolute)")
        }
        let sizes = [vocabSize, hiddenSize, layers, heads, intermediateSize, maxPositions, typeVocabSize]
        guard sizes.allSatisfy({ $0 > 0 }), hiddenSize % heads == 0 else {
            throw SlimError.malformedFile(path: file.path, detail: "sizes must be positive and hidden_size \(hiddenSize) a multiple of num_attention_heads \(heads)")
        }
    }
}
