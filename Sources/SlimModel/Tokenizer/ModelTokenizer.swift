import Foundation
import SlimCore

/// The tokenizer of any model Slim runs: a BERT folder's WordPiece or a GGUF
/// file's byte-level BPE, chosen by what the path is.
public enum ModelTokenizer: Sendable {
    case wordPiece(WordPieceTokenizer)
    case bytePairs(BPETokenizer)

    public init(model url: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw SlimError.io(path: url.path, detail: "no such file or folder")
        }
        if isFolder.boolValue {
            self = .wordPiece(try WordPieceTokenizer(modelFolder: url))
        } else if url.pathExtension.lowercased() == "gguf" {
            self = .bytePairs(try BPETokenizer(gguf: try GGUFFile(contentsOf: url)))
        } else {
            throw SlimError.unsupported(op: "tokenize with \(url.path)", backend: "model",
                                        reason: "a model is a folder (config.json, tokenizer files) or a .gguf file")
        }
    }

    /// The model's ids for `text`, with the special tokens the model adds
    /// (`[CLS] … [SEP]`; BOS where the file asks for it).
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int32] {
        switch self {
        case let .wordPiece(t): t.encode(text)
        case let .bytePairs(t): t.encode(text, parseSpecial: parseSpecial)
        }
    }

    /// Each id's vocabulary entry, as the model stores it.
    public func pieces(_ ids: [Int32]) -> [String] {
        switch self {
        case let .wordPiece(t): t.decode(ids: ids)
        case let .bytePairs(t): ids.map { t.tokens.indices.contains(Int($0)) ? t.tokens[Int($0)] : "?" }
        }
    }
}
