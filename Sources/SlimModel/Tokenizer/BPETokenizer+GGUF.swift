import SlimCore

extension BPETokenizer {
    /// The tokenizer a GGUF file carries (`tokenizer.ggml.*`): its model must
    /// be `gpt2` (byte-level BPE) and its pre-tokenizer one Slim implements.
    public init(gguf: GGUFFile) throws {
        let origin = gguf.path
        func value(_ key: String) -> GGUFValue? { gguf.metadata["tokenizer.ggml." + key] }
        func malformed(_ detail: String) -> SlimError { .malformedFile(path: origin, detail: detail) }
        guard let model = value("model")?.string else { throw malformed("no tokenizer (metadata key 'tokenizer.ggml.model')") }
        guard model == "gpt2" else {
            throw SlimError.unsupported(op: "tokenizer of \(origin)", backend: "model",
                                        reason: "tokenizer model '\(model)'; Slim reads byte-level BPE ('gpt2') from GGUF")
        }
        let preName = value("pre")?.string ?? "default"
        guard let pre = BPEPreTokenizer(ggufName: preName) else {
            throw SlimError.unsupported(op: "tokenizer of \(origin)", backend: "model",
                                        reason: "pre-tokenizer '\(preName)'; Slim implements \(BPEPreTokenizer.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let tokens = value("tokens")?.strings else { throw malformed("'tokenizer.ggml.tokens' is missing or not a list of strings") }
        guard let merges = value("merges")?.strings else { throw malformed("'tokenizer.ggml.merges' is missing or not a list of strings") }
        let kinds: [TokenKind]
        if let types = value("token_type") {
            guard let raw = types.ints, raw.count == tokens.count else {
                throw malformed("'tokenizer.ggml.token_type' must hold one integer per token (\(tokens.count))")
            }
            kinds = try raw.enumerated().map { i, t in
                guard let kind = TokenKind(rawValue: t) else { throw malformed("token \(i) has unknown type \(t)") }
                return kind
            }
        } else {
            kinds = Array(repeating: .normal, count: tokens.count)
        }
        func id(_ key: String) throws -> Int32? {
            guard let v = value(key) else { return nil }
            guard let i = v.int, let id = Int32(exactly: i) else { throw malformed("'tokenizer.ggml.\(key)' is not a token id") }
            return id
        }
        try self.init(tokens: tokens, kinds: kinds, merges: merges, preTokenizer: pre,
                      bosID: try id("bos_token_id"), eosID: try id("eos_token_id"),
                      addBOS: value("add_bos_token")?.bool ?? false, origin: origin)
    }
}
