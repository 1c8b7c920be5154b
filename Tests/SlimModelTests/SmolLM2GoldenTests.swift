import Foundation
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// SmolLM2 against what llama.cpp printed for the same GGUF file
/// (`Tests/Fixtures/smollm2-golden.json`): perplexity on the fortunes
/// text and a greedy continuation, with the activations quantized per block
/// of 32 as llama.cpp quantizes them.
@Suite(.serialized) struct SmolLM2GoldenTests {
    struct Golden: Decodable {
        struct Perplexity: Decodable { let file: String; let sha256: String; let n_ctx: Int; let running_ppl_after_each_chunk: [Double] }
        struct Greedy: Decodable { let prompt: String; let max_new_tokens: Int; let text: String }
        let perplexity: Perplexity
        let greedy: [Greedy]
    }

    static func golden() throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: try TestAssets.smolLM2Golden))
    }

    func model(_ backend: any Backend) throws -> (DecoderModel, BPETokenizer) {
        let gguf = try GGUFFile(contentsOf: try TestAssets.smolLM2)
        return (try DecoderModel(gguf: gguf, backend: backend, activations: .int8PerBlock), try BPETokenizer(gguf: gguf))
    }

    /// The issue's bound: within 0.5% of llama.cpp's running perplexity after
    /// the chunks run (two on the CPU, one on PoCL, which is slow).
    @Test(arguments: [("cpu", 2), ("opencl", 1)])
    func perplexityWithinHalfAPercentOfLlamaCpp(_ backendName: String, _ chunks: Int) throws {
        let backend = try TestBackends.named(backendName)
        let golden = try Self.golden()
        let data = try Data(contentsOf: URL(fileURLWithPath: golden.perplexity.file.components(separatedBy: " ")[0]))
        #expect(SHA256.hex(data) == golden.perplexity.sha256, "the fortunes file differs from the reference's")
        let (llama, tokenizer) = try model(backend)
        let tokens = tokenizer.encode(try TextInput.decodeUTF8(data, origin: "wisdom"), parseSpecial: false)
        let result = try llama.perplexity(tokens: tokens, context: golden.perplexity.n_ctx, chunks: chunks)
        let want = golden.perplexity.running_ppl_after_each_chunk[chunks - 1]
        #expect(result.tokensScored == chunks * (golden.perplexity.n_ctx / 2 - 1))
        #expect(abs(result.perplexity / want - 1) <= 0.005, "\(backendName): PPL \(result.perplexity) vs llama.cpp \(want)")
    }

    /// With the AVX2 integer kernels, whose float rescaling adds the runs in
    /// the order llama.cpp's AVX2 kernels do closely enough, the greedy text is
    /// llama.cpp's to the token.
    @Test func greedyContinuationEqualsLlamaCpp() throws {
        let (llama, tokenizer) = try model(CPUBackend(isa: min(.avx2, CPUBackend.ISA.best)))
        for g in try Self.golden().greedy {
            var ids: [Int32] = []
            _ = try llama.generate(prompt: tokenizer.encode(g.prompt), maxTokens: g.max_new_tokens) { ids.append($0) }
            #expect(ids.count == g.max_new_tokens)
            #expect(g.prompt + tokenizer.decode(ids) == g.text)
        }
    }

    /// On every backend and kernel path, reading the reference continuation
    /// token by token, the model's top choice is the reference token, or a
    /// numerical tie with it: "311" (vs "321") trails by 0.03 logits, and
    /// the VNNI kernels' different summation order flips it. A real defect
    /// would miss a confident token.
    @Test(arguments: ["cpu", "opencl"])
    func referenceTokensAreTopChoicesUpToTies(_ backendName: String) throws {
        let backend = try TestBackends.named(backendName)
        let (llama, tokenizer) = try model(backend)
        for g in try Self.golden().greedy {
            // Step by step through a KV cache, as generation runs (one token per step).
            let prompt = tokenizer.encode(g.prompt).count, ids = tokenizer.encode(g.text)
            let cache = try llama.makeCache(capacity: ids.count)
            var hidden = try llama.hiddenStates(Array(ids[..<prompt]), cache: cache), last = prompt - 1
            var misses: [String] = []
            for position in prompt - 1..<ids.count - 1 {
                let z = try backend.floats(try llama.logits(hidden, rows: last..<last + 1))
                let top = z.indices.max { z[$0] < z[$1] }!, want = Int(ids[position + 1])
                if top != want { misses.append("\(tokenizer.tokens[want]) trails \(tokenizer.tokens[top]) by \(z[top] - z[want])") }
                // 0.1 logits: three times the largest gap seen at a flipped token (0.03).
                #expect(top == want || z[top] - z[want] < 0.1, "\(backendName): position \(position) \(misses.last ?? "")")
                hidden = try llama.hiddenStates([ids[position + 1]], cache: cache)
                last = 0
            }
            print("\(backendName): \(misses.count) reference tokens not top-1 (ties): \(misses)")
        }
    }
}
