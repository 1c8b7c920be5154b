import Foundation
import SlimCore

extension WordPieceTokenizer {
    /// Loads a model folder's tokenizer as sentence-transformers would:
    /// `tokenizer.json` when present, else `vocab.txt`; settings from
    /// `tokenizer_config.json` where it has them (see `TokenizerConfig`); at
    /// most `max_seq_length` ids (`sentence_bert_config.json`), else
    /// `model_max_length`, never more than 512.
    public init(modelFolder folder: URL) throws {
        let config = try TokenizerConfig(folder: folder)
        let json = folder.appendingPathComponent("tokenizer.json"), vocabText = folder.appendingPathComponent("vocab.txt")
        if FileManager.default.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json, config: config)
        } else if FileManager.default.fileExists(atPath: vocabText.path) {
            let vocabulary = Vocabulary(lines: try Self.lines(of: vocabText))
            try self.init(vocabulary: vocabulary, basic: config.basic(default: BasicTokenizer()), maxLength: config.maxLength,
                          addedTokens: config.specialTokens(in: vocabulary),
                          unknown: config.unknown, cls: config.cls, sep: config.sep, pad: config.pad, origin: vocabText.path)
        } else {
            throw SlimError.io(path: folder.path, detail: "no tokenizer.json or vocab.txt: not a BERT tokenizer folder")
        }
    }

    /// A `vocab.txt` (one token per line, the id is the line number) with
    /// uncased BERT's settings and special tokens.
    public init(vocabularyFile url: URL, lowercase: Bool = true, maxLength: Int = 512) throws {
        let vocabulary = Vocabulary(lines: try Self.lines(of: url))
        try self.init(vocabulary: vocabulary, basic: BasicTokenizer(lowercase: lowercase), maxLength: maxLength,
                      addedTokens: TokenizerConfig.defaults.specialTokens(in: vocabulary), origin: url.path)
    }

    /// A tokenizers `tokenizer.json` holding a WordPiece model, BertNormalizer and BertPreTokenizer.
    private init(tokenizerJSON url: URL, config: TokenizerConfig) throws {
        let o = try JSONFile.object(at: url)
        func malformed(_ detail: String) -> SlimError { .malformedFile(path: url.path, detail: detail) }
        func unsupported(_ what: String) -> SlimError {
            .unsupported(op: "load \(url.path)", backend: "model", reason: "\(what); Slim reads BERT WordPiece tokenizers")
        }
        guard let model = o["model"] as? [String: Any], let rawVocab = model["vocab"] as? [String: Any] else {
            throw malformed("no model with a vocab")
        }
        guard (model["type"] as? String) == "WordPiece" else { throw unsupported("model type '\(model["type"] ?? "none")'") }
        let normalizer = o["normalizer"] as? [String: Any]
        if let normalizer, (normalizer["type"] as? String) != "BertNormalizer" {
            throw unsupported("normalizer '\(normalizer["type"] ?? "?")'")
        }
        let preTokenizer = (o["pre_tokenizer"] as? [String: Any])?["type"] as? String
        guard preTokenizer == "BertPreTokenizer" else { throw unsupported("pre-tokenizer '\(preTokenizer ?? "none")'") }

        var entries: [(token: String, id: Int32)] = []
        entries.reserveCapacity(rawVocab.count)
        for (token, value) in rawVocab {
            guard let id = Self.tokenID(value) else { throw malformed("vocab entry '\(token)' has no id in 0..<2^24") }
            entries.append((token, id))
        }
        let vocabulary = Vocabulary(entries, continuationPrefix: model["continuing_subword_prefix"] as? String ?? "##")

        var added: [AddedToken] = []
        for case let t as [String: Any] in o["added_tokens"] as? [Any] ?? [] {
            guard let content = t["content"] as? String, let id = Self.tokenID(t["id"]) else {
                throw malformed("an added token has no content or no id in 0..<2^24")
            }
            added.append(AddedToken(content: content, id: id, singleWord: t["single_word"] as? Bool ?? false,
                                    lstrip: t["lstrip"] as? Bool ?? false, rstrip: t["rstrip"] as? Bool ?? false,
                                    normalized: t["normalized"] as? Bool ?? !(t["special"] as? Bool ?? false)))
        }

        // No normalizer: the text goes to the pre-tokenizer as it is.
        let fromJSON = normalizer.map {
            BasicTokenizer(cleanText: $0["clean_text"] as? Bool ?? true, splitCJK: $0["handle_chinese_chars"] as? Bool ?? true,
                           stripAccents: $0["strip_accents"] as? Bool, lowercase: $0["lowercase"] as? Bool ?? true)
        } ?? BasicTokenizer(cleanText: false, splitCJK: false, stripAccents: false, lowercase: false)
        guard let maxWord = (model["max_input_chars_per_word"] ?? 100) as? Int, maxWord > 0 else {
            throw malformed("max_input_chars_per_word must be a positive integer")
        }
        try self.init(vocabulary: vocabulary, basic: config.basic(default: fromJSON), maxLength: config.maxLength,
                      maxWordCharacters: maxWord, addedTokens: added,
                      unknown: model["unk_token"] as? String ?? config.unknown, cls: config.cls, sep: config.sep,
                      pad: config.pad, origin: url.path)
    }

    /// An id as JSON gives it; nil unless an integer in 0..<2^24, which bounds
    /// the id → token table a malformed file could make us allocate.
    private static func tokenID(_ value: Any?) -> Int32? {
        guard let n = value as? Int, (0..<(1 << 24)).contains(n) else { return nil }
        return Int32(n)
    }

    /// A `vocab.txt`'s tokens, read as transformers reads them: UTF-8, lines
    /// ended by "\n", "\r\n" or "\r" (Python's universal newlines).
    private static func lines(of url: URL) throws -> [String] {
        // "\r\n" is one Character, so this splits each line end once.
        var lines = try TextInput.decodeUTF8(try FileReading.data(atPath: url.path), origin: url.path)
            .split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            .map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
