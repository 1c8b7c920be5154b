import Foundation
import SlimCore

/// What a model folder's `tokenizer_config.json` and
/// `sentence_bert_config.json` say about its BERT tokenizer.
struct TokenizerConfig: Sendable {
    /// Where `tokenizer_config.json` exists, `BertTokenizerFast` replaces the
    /// normaliser's lowercase, strip-accents and CJK settings with its
    /// `do_lower_case`, `strip_accents` and `tokenize_chinese_chars`
    /// (defaults true, null, true), whatever `tokenizer.json` says.
    var normalizerOverride: (lowercase: Bool, stripAccents: Bool?, splitCJK: Bool)?
    var unknown = "[UNK]", cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", mask = "[MASK]"
    var maxLength = 512

    /// A folder without either file: uncased BERT.
    static let defaults = TokenizerConfig()

    private init() {}

    init(folder: URL) throws {
        let tokenizerConfig = folder.appendingPathComponent("tokenizer_config.json")
        let sentenceConfig = folder.appendingPathComponent("sentence_bert_config.json")
        // BERT has 512 positions; model_max_length is often a huge placeholder.
        var maxLength = 512
        if FileManager.default.fileExists(atPath: tokenizerConfig.path) {
            let o = try JSONFile.object(at: tokenizerConfig)
            normalizerOverride = (o["do_lower_case"] as? Bool ?? true, o["strip_accents"] as? Bool,
                                  o["tokenize_chinese_chars"] as? Bool ?? true)
            unknown = Self.tokenName(o["unk_token"]) ?? unknown
            cls = Self.tokenName(o["cls_token"]) ?? cls
            sep = Self.tokenName(o["sep_token"]) ?? sep
            pad = Self.tokenName(o["pad_token"]) ?? pad
            mask = Self.tokenName(o["mask_token"]) ?? mask
            if let n = o["model_max_length"] as? Double, n >= 2 { maxLength = Int(min(n, 512)) }
        }
        // sentence-transformers truncates to its own max_seq_length.
        if FileManager.default.fileExists(atPath: sentenceConfig.path),
           let n = try JSONFile.object(at: sentenceConfig)["max_seq_length"] as? Int, n >= 2 {
            maxLength = min(n, 512)
        }
        self.maxLength = maxLength
    }

    /// The normaliser: `fromTokenizerJSON` with `tokenizer_config.json`'s settings over it.
    func basic(default fromTokenizerJSON: BasicTokenizer) -> BasicTokenizer {
        guard let o = normalizerOverride else { return fromTokenizerJSON }
        return BasicTokenizer(cleanText: fromTokenizerJSON.cleanText, splitCJK: o.splitCJK, stripAccents: o.stripAccents,
                              lowercase: o.lowercase)
    }

    /// The special tokens the vocabulary has, as transformers adds them to a
    /// tokenizer built from `vocab.txt`: matched in the raw text.
    func specialTokens(in vocabulary: Vocabulary) -> [AddedToken] {
        [pad, unknown, cls, sep, mask].compactMap { name in vocabulary.id(of: name).map { AddedToken(content: name, id: $0) } }
    }

    /// A special token as transformers writes it: a string, or an object with its "content".
    private static func tokenName(_ value: Any?) -> String? {
        value as? String ?? (value as? [String: Any])?["content"] as? String
    }
}
