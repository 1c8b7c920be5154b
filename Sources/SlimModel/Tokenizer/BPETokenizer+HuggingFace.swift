import Foundation
import SlimCore

/// Byte-level BPE in Hugging Face's files: `tokenizer.json` (vocabulary,
/// merges, added tokens, pre-tokenizer) and `tokenizer_config.json` (BOS,
/// EOS, whether BOS is added). Slim writes them for the decoders it
/// compresses, so the folder carries the exact tokenizer of its source.
extension BPETokenizer {
    public init(huggingFaceFolder folder: URL) throws {
        let url = folder.appendingPathComponent("tokenizer.json")
        let o = try JSONFile.object(at: url)
        func malformed(_ detail: String) -> SlimError { .malformedFile(path: url.path, detail: detail) }
        func unsupported(_ reason: String) -> SlimError { .unsupported(op: "tokenizer of \(folder.path)", backend: "model", reason: reason) }
        guard let model = o["model"] as? [String: Any] else { throw malformed("no 'model' object") }
        guard model["type"] as? String == "BPE" else { throw unsupported("tokenizer model '\(model["type"] ?? "none")'; Slim reads byte-level BPE") }
        guard model["byte_fallback"] as? Bool != true else { throw unsupported("BPE with byte_fallback (SentencePiece style) is not byte-level BPE") }
        guard let vocab = model["vocab"] as? [String: Int] else { throw malformed("'model.vocab' must map tokens to ids") }
        let mergeList: [String]
        if let strings = model["merges"] as? [String] {
            mergeList = strings
        } else if let pairs = model["merges"] as? [[String]], pairs.allSatisfy({ $0.count == 2 }) {
            mergeList = pairs.map { $0[0] + " " + $0[1] }
        } else {
            throw malformed("'model.merges' must be a list of \"a b\" strings or [a, b] pairs")
        }
        var entries = vocab.map { ($0.value, $0.key, TokenKind.normal) }
        for added in o["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = added["id"] as? Int, let content = added["content"] as? String else { throw malformed("an added token lacks id or content") }
            entries.removeAll { $0.0 == id }
            entries.append((id, content, added["special"] as? Bool == true ? .control : .userDefined))
        }
        entries.sort { $0.0 < $1.0 }
        guard entries.enumerated().allSatisfy({ $0.offset == $0.element.0 }) else {
            throw malformed("token ids must run from 0 without gaps or repeats")
        }
        let pre = try Self.preTokenizer(o["pre_tokenizer"], unsupported: unsupported)
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        let config = (try? JSONFile.object(at: configURL)) ?? [:]
        func id(_ key: String) throws -> Int32? {
            let text = (config[key] as? String) ?? ((config[key] as? [String: Any])?["content"] as? String)
            guard let text else { return nil }
            guard let entry = entries.first(where: { $0.1 == text }) else {
                throw SlimError.malformedFile(path: configURL.path, detail: "\(key) '\(text)' is not in the vocabulary")
            }
            return Int32(entry.0)
        }
        try self.init(tokens: entries.map(\.1), kinds: entries.map(\.2), merges: mergeList, preTokenizer: pre,
                      bosID: try id("bos_token"), eosID: try id("eos_token"), addBOS: config["add_bos_token"] as? Bool ?? false,
                      origin: url.path)
    }

    /// Which of Slim's pre-tokenizers a `pre_tokenizer` object describes.
    private static func preTokenizer(_ value: Any?, unsupported: (String) -> SlimError) throws -> BPEPreTokenizer {
        func byteLevel(_ o: [String: Any]) -> Bool {
            o["type"] as? String == "ByteLevel" && o["add_prefix_space"] as? Bool != true && o["use_regex"] as? Bool != false
        }
        guard let o = value as? [String: Any] else { throw unsupported("no pre_tokenizer") }
        if byteLevel(o) { return .gpt2 }
        if o["type"] as? String == "Sequence", let steps = o["pretokenizers"] as? [[String: Any]], steps.count == 2,
           steps[0]["type"] as? String == "Digits", steps[0]["individual_digits"] as? Bool == true, byteLevel(steps[1]) {
            return .smollm
        }
        throw unsupported("pre_tokenizer \(o["type"] as? String ?? "?") is not one Slim implements (GPT-2 byte level, or digits then byte level)")
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `folder`.
    public func writeHuggingFace(to folder: URL, maxLength: Int) throws {
        var vocab: [String: Int] = [:], added: [[String: Any]] = []
        for (id, token) in tokens.enumerated() {
            if kinds[id] == .control || kinds[id] == .userDefined {
                added.append(["id": id, "content": token, "special": kinds[id] == .control, "single_word": false,
                              "lstrip": false, "rstrip": false, "normalized": false])
            }
            guard vocab[token] == nil else {
                throw SlimError.invalidArgument("token '\(token)' appears twice in the vocabulary; tokenizer.json cannot hold it")
            }
            vocab[token] = id
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        let pre: [String: Any] = preTokenizer == .gpt2 ? byteLevel
            : ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
        let json: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": pre, "post_processor": NSNull(), "decoder": byteLevel,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": mergeList],
        ]
        var config: [String: Any] = ["add_bos_token": addBOS, "add_eos_token": false, "model_max_length": maxLength,
                                     "tokenizer_class": "GPT2Tokenizer", "clean_up_tokenization_spaces": false]
        if let bosID { config["bos_token"] = tokens[Int(bosID)] }
        if let eosID { config["eos_token"] = tokens[Int(eosID)] }
        for (name, object) in [("tokenizer.json", json), ("tokenizer_config.json", config)] {
            try writeAtomically(try JSONOutput.data(object, options: [.sortedKeys]), to: folder.appendingPathComponent(name))
        }
    }
}
