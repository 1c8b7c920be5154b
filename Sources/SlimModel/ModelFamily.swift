import Foundation
import SlimCore

/// What kind of model a path holds, from its file type or its `config.json`:
/// commands that serve both kinds choose their path by it.
public enum ModelFamily: Sendable, Equatable {
    /// A BERT-style sentence encoder folder.
    case encoder
    /// A decoder of a family in ``DecoderArchitecture/Family``: a GGUF file or a Hugging Face folder.
    case decoder

    public init(path url: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw SlimError.io(path: url.path, detail: "no such file or folder")
        }
        if !isFolder.boolValue {
            guard url.pathExtension.lowercased() == "gguf" else {
                throw SlimError.unsupported(op: "load \(url.path)", backend: "model",
                                            reason: "a model is a folder (config.json, weights, tokenizer files) or a .gguf file")
            }
            self = .decoder
            return
        }
        let configURL = url.appendingPathComponent("config.json")
        let type = try JSONFile.object(at: configURL)["model_type"] as? String ?? "none"
        if DecoderArchitecture.Family(rawValue: type) != nil { self = .decoder; return }
        guard type == "bert" else {
            throw SlimError.invalidConfig(path: configURL.path, key: "model_type",
                                          detail: "is '\(type)'; Slim runs BERT encoders (bert) and the decoder families \(DecoderArchitecture.Family.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = .encoder
    }
}

extension DecoderModel {
    /// A decoder and its tokenizer from a GGUF file or a Hugging Face Llama folder.
    /// `weights`: what float linear weights run as (``FloatWeights``).
    public static func load(_ url: URL, backend: any Backend, activations: ActivationPrecision = .f32,
                            weights: FloatWeights = .f32) throws -> (DecoderModel, BPETokenizer) {
        guard try ModelFamily(path: url) == .decoder else {
            throw SlimError.unsupported(op: "load \(url.path)", backend: "model", reason: "not a decoder (a GGUF file, or a folder whose config.json model_type is one of \(DecoderArchitecture.Family.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let model: DecoderModel, tokenizer: BPETokenizer
        if url.pathExtension.lowercased() == "gguf" {
            let gguf = try GGUFFile(contentsOf: url)
            (model, tokenizer) = (try DecoderModel(gguf: gguf, backend: backend, activations: activations, weights: weights),
                                  try BPETokenizer(gguf: gguf))
        } else {
            (model, tokenizer) = (try DecoderModel(folder: url, backend: backend, activations: activations, weights: weights),
                                  try BPETokenizer(huggingFaceFolder: url))
        }
        guard tokenizer.vocabularySize == model.config.vocabSize else {
            throw SlimError.malformedFile(path: url.path, detail: "the tokenizer has \(tokenizer.vocabularySize) tokens, the model \(model.config.vocabSize)")
        }
        return (model, tokenizer)
    }
}
