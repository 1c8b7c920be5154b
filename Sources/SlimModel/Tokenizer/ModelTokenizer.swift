import Foundation
import SlimCore

/// The tokenizer of any model Slim runs: a BERT folder's WordPiece or a GGUF
/// file's byte-level BPE, chosen by what the path is.
public enum ModelTokenizer: Sendable {
    case wordPiece(WordPieceTokenizer)
    case bytePairs(BPETokenizer)

    public init(model url: URL) throws {
        switch try ModelFamily(path: url) {
        case .encoder: self = .wordPiece(try WordPieceTokenizer(modelFolder: url))
        case .decoder where url.pathExtension.lowercased() == "gguf": self = .bytePairs(try BPETokenizer(gguf: try GGUFFile(contentsOf: url)))
        case .decoder: self = .bytePairs(try BPETokenizer(huggingFaceFolder: url))
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
