import Foundation
import SlimCore

extension WordPieceTokenizer {
    /// Loads a model folder's tokenizer: `tokenizer.json` when present (its
    /// WordPiece vocabulary and BertNormalizer settings), else `vocab.txt`
    /// (uncased). The maximum length is sentence-transformers'
    /// `max_seq_length` (`sentence_bert_config.json`) when given, else
    /// `model_max_length` from `tokenizer_config.json`, at most 512.
    public init(modelFolder folder: URL) throws {
        let fm = FileManager.default
        let json = folder.appendingPathComponent("tokenizer.json"), vocabText = folder.appendingPathComponent("vocab.txt")
        let maxLength = try Self.maxLength(folder: folder)
        if fm.fileExists(atPath: json.path) {
            let o = try JSONFile.object(at: json)
            guard let model = o["model"] as? [String: Any], (model["type"] as? String) == "WordPiece",
                  let raw = model["vocab"] as? [String: Any] else {
                throw SlimError.malformedFile(path: json.path, detail: "model is not a WordPiece model with a vocab")
            }
            var vocabulary: [String: Int32] = [:]
            for (token, id) in raw {
                guard let n = id as? NSNumber, n.int64Value >= 0, n.int64Value < Int32.max else {
                    throw SlimError.malformedFile(path: json.path, detail: "vocab entry '\(token)' has no valid id")
                }
                vocabulary[token] = Int32(n.int64Value)
            }
            let normalizer = o["normalizer"] as? [String: Any] ?? [:]
            let lowercase = normalizer["lowercase"] as? Bool ?? true
            let basic = BasicTokenizer(lowercase: lowercase, stripAccents: normalizer["strip_accents"] as? Bool,
                                       splitCJK: normalizer["handle_chinese_chars"] as? Bool ?? true)
            try self.init(vocabulary: vocabulary, basic: basic, maxLength: maxLength,
                          maxWordCharacters: model["max_input_chars_per_word"] as? Int ?? 100,
                          continuationPrefix: model["continuing_subword_prefix"] as? String ?? "##",
                          unknown: model["unk_token"] as? String ?? "[UNK]", origin: json.path)
        } else if fm.fileExists(atPath: vocabText.path) {
            try self.init(vocabularyFile: vocabText, maxLength: maxLength)
        } else {
            throw SlimError.io(path: folder.path, detail: "no tokenizer.json or vocab.txt")
        }
    }

    /// A `vocab.txt` (one token per line, the id is the line number), uncased BERT settings.
    public init(vocabularyFile url: URL, lowercase: Bool = true, maxLength: Int = 512) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SlimError.io(path: url.path, detail: "cannot read the vocabulary")
        }
        let text = try TextInput.decodeUTF8(data, origin: url.path)
        var vocabulary: [String: Int32] = [:]
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let token = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
            if !token.isEmpty, vocabulary[token] == nil { vocabulary[token] = Int32(i) }
        }
        try self.init(vocabulary: vocabulary, basic: BasicTokenizer(lowercase: lowercase), maxLength: maxLength, origin: url.path)
    }

    private static func maxLength(folder: URL) throws -> Int {
        let st = folder.appendingPathComponent("sentence_bert_config.json")
        if FileManager.default.fileExists(atPath: st.path), let n = try JSONFile.object(at: st)["max_seq_length"] as? Int, n > 1 {
            return min(n, 512)
        }
        let tc = folder.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: tc.path), let n = try JSONFile.object(at: tc)["model_max_length"] as? Int, n > 1 {
            return min(n, 512)
        }
        return 512
    }
}
