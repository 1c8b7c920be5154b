import ArgumentParser
import Foundation
import SlimCore
import SlimModel

/// Options that load a decoder LLM from a GGUF file, shared by `perplexity` and `generate`.
struct DecoderModelOptions: ParsableArguments {
    @Argument(help: "A Llama-architecture decoder: a .gguf file (SmolLM2, Llama …) or a Hugging Face Llama folder, compressed or not.")
    var model: String
    @Option(help: """
        Activations of the quantized products: int8-block (per 32 values with an fp16 scale, integer dot products, \
        as llama.cpp computes; a layer whose input width is no multiple of 32 quantizes per row), \
        int8-row (one scale per token: fastest, least exact) or f32.
        """)
    var activations: String = "int8-block"
    @Option(help: """
        What float linear weights run as: stored (as the checkpoint stores them: a bf16 or f16 checkpoint \
        runs its 16-bit weights directly, at half the memory of an fp32 copy and with the same values; fp32 stays fp32), \
        f32 (widened: an fp32 copy), bf16 or f16 (rounded to that type). 16-bit weights always multiply fp32 \
        activations, whatever --activations says; quantized weights run as stored.
        """)
    var weights: String = "stored"
    @OptionGroup var backendOption: BackendOption

    func validate() throws {
        _ = try ActivationPrecision(option: activations)
        _ = try FloatWeights(option: weights)
    }

    func load() throws -> (DecoderModel, BPETokenizer) {
        try DecoderModel.load(URL(fileURLWithPath: model), backend: try backendOption.open(),
                            activations: try ActivationPrecision(option: activations), weights: try FloatWeights(option: weights))
    }
}

struct PerplexityCommand: ParsableCommand, SplitsAcrossRanks {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a decoder on a text, measured as llama-perplexity does.",
        discussion: """
            The text is tokenized whole, cut into consecutive chunks of --ctx tokens, each chunk is \
            evaluated from scratch, and only the second half of each chunk is scored: \
            PPL = exp(mean negative log-likelihood).
            """)

    @OptionGroup var options: DecoderModelOptions
    @Option(help: "A UTF-8 text file.") var file: String
    @Option(help: "Tokens per chunk.") var ctx = 512
    @Option(help: "Evaluate only the first N chunks.") var chunks: Int?
    @OptionGroup var devicesOption: DevicesOption
    @Flag(help: "Print {ppl, tokens_scored, token_nll (every scored token's negative log-likelihood, in order), tokens_per_s, running_ppl, chunks, ctx} as JSON.") var json = false

    func run() throws {
        let text = try TextInput.decodeUTF8(try FileReading.data(atPath: file), origin: file)
        let bar = ProgressLine(unit: "chunks")
        let result: PerplexityResult, tokens: [Int32]
        if let devices = try devicesOption.selected() {
            // A model replica per device, each scoring its share of the chunks.
            let (url, activations, ctx, chunks) = (URL(fileURLWithPath: options.model), try ActivationPrecision(option: options.activations), ctx, chunks)
            (result, tokens) = try DeviceReplicas.run(devices) { backend, ranks in
                let (llama, tokenizer) = try DecoderModel.load(url, backend: backend, activations: activations)
                let tokens = tokenizer.encode(text, addBOS: false, parseSpecial: false)
                return (try llama.perplexity(tokens: tokens, context: ctx, chunks: chunks, bos: tokenizer.addBOS ? tokenizer.bosID : nil,
                                             collective: ranks) { if ranks.isRoot { bar.update($0, of: $1) } }, tokens)
            }
        } else {
            let (llama, tokenizer) = try options.load()
            tokens = tokenizer.encode(text, addBOS: false, parseSpecial: false)
            result = try llama.perplexity(tokens: tokens, context: ctx, chunks: chunks,
                                          bos: tokenizer.addBOS ? tokenizer.bosID : nil, collective: Job.collective) { bar.update($0, of: $1) }
        }
        bar.finish()
        guard Job.isRoot else { return }
        if json {
            try printJSON(["ppl": result.perplexity, "tokens_scored": result.tokensScored, "tokens_per_s": result.tokensPerSecond,
                           "running_ppl": result.running, "token_nll": result.tokenNLL, "chunks": result.running.count, "ctx": ctx, "text_tokens": tokens.count])
            return
        }
        print(result.running.enumerated().map { String(format: "[%d]%.4f", $0.offset + 1, $0.element) }.joined(separator: ","))
        print(String(format: "PPL = %.4f over %d scored tokens (%d chunks of %d; the text has %d tokens), %.1f tokens/s",
                     result.perplexity, result.tokensScored, result.running.count, ctx, tokens.count, result.tokensPerSecond))
    }
}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a decoder, streaming the text as it is produced.")

    @OptionGroup var options: DecoderModelOptions
    @Argument(help: "The prompt (control tokens such as <|im_start|> are recognised).") var prompt: String
    @Option(help: "Tokens to generate at most (generation also stops at the end-of-text token, and when prompt and text fill the context).") var maxTokens = 64
    @Option(help: "Tokens of context: prompt and generated text together (default: the model's context length).") var ctx: Int?
    @Option(help: "0 is greedy.") var temperature: Float = 0
    @Option(help: "Nucleus sampling: keep the most likely tokens up to this probability.") var topP: Float = 1
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Flag(help: "Print {prompt, text, token_ids, prompt_tokens, generated_tokens, prompt_tokens_per_s, tokens_per_s, context, stop_reason} as JSON at the end instead of streaming.")
    var json = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must not be negative") }
        guard temperature >= 0, topP > 0, topP <= 1 else { throw ValidationError("--temperature ≥ 0 and 0 < --top-p ≤ 1") }
        if let ctx, ctx < 1 { throw ValidationError("--ctx must be at least 1") }
    }

    func run() throws {
        let (llama, tokenizer) = try options.load()
        let promptIDs = tokenizer.encode(prompt)
        var stream = UTF8Stream()
        var produced: [Int32] = []
        var text = ""
        if !json { writeOut(prompt) }
        let stats = try llama.generate(prompt: promptIDs, maxTokens: maxTokens, context: ctx,
                                       sampler: Sampler(temperature: temperature, topP: topP, seed: seed),
                                       stop: Set([tokenizer.eosID].compactMap { $0 })) { token in
            produced.append(token)
            let piece = stream.append(tokenizer.bytes(of: token))
            text += piece
            if !json { writeOut(piece) }
        }
        let rest = stream.finish()
        text += rest
        if json {
            try printJSON(["prompt": prompt, "text": text, "token_ids": produced.map(Int.init), "prompt_tokens": stats.promptTokens,
                           "generated_tokens": stats.generatedTokens, "prompt_tokens_per_s": stats.promptTokensPerSecond,
                           "tokens_per_s": stats.generationTokensPerSecond, "context": stats.context, "stop_reason": stats.stop.rawValue])
            return
        }
        writeOut(rest + "\n")
        if stats.stop == .contextFull {
            printError("stopped: prompt and text fill the context of \(stats.context) tokens"
                       + (stats.context < llama.config.contextLength ? " (--ctx; the model takes up to \(llama.config.contextLength))" : ""))
        }
        printError(String(format: "prompt: %d tokens, %.1f tokens/s; generated: %d tokens, %.1f tokens/s",
                          stats.promptTokens, stats.promptTokensPerSecond, stats.generatedTokens, stats.generationTokensPerSecond))
    }

    /// Unbuffered, so each piece shows as soon as it is chosen.
    private func writeOut(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }
}
