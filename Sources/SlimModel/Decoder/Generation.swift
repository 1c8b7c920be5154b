import Foundation
import SlimCore

/// How the next token is picked from the logits.
public struct Sampler: Sendable {
    /// 0 is greedy (argmax).
    public var temperature: Float
    /// Nucleus sampling: the smallest set of tokens whose probability reaches `topP`.
    public var topP: Float
    private var generator: SeededGenerator

    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topP = topP
        generator = SeededGenerator(seed: seed)
    }

    public mutating func next(_ logits: ArraySlice<Float>) -> Int32 {
        let base = logits.startIndex
        guard temperature > 0 else {
            var best = base
            for i in logits.indices where logits[i] > logits[best] { best = i }
            return Int32(best - base)
        }
        let peak = logits.max() ?? 0
        var probabilities = logits.map { exp(Double(($0 - peak) / temperature)) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        var kept: [Int] = [], mass = 0.0
        for i in order {
            kept.append(i)
            mass += probabilities[i]
            if mass >= Double(topP) { break }
        }
        var pick = uniform() * mass
        for i in kept {
            pick -= probabilities[i]
            if pick <= 0 { return Int32(i) }
        }
        return Int32(kept.last ?? 0)
    }

    /// Reproducible from the seed on every platform (SplitMix64).
    private mutating func uniform() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }
}

/// Why generation ended.
public enum GenerationStop: String, Sendable {
    /// `maxTokens` were produced.
    case maxTokens = "max_tokens"
    /// A stop token (end of text) was produced.
    case stopToken = "stop_token"
    /// Prompt and generated tokens fill the context: a further token would have no position.
    case contextFull = "context_full"
}

public struct GenerationStats: Sendable {
    public let promptTokens: Int, generatedTokens: Int
    public let promptSeconds: Double, generationSeconds: Double
    /// The context the run had: prompt and generated tokens together fit in it.
    public let context: Int
    public let stop: GenerationStop
    public var promptTokensPerSecond: Double { Double(promptTokens) / max(promptSeconds, 1e-9) }
    public var generationTokensPerSecond: Double { Double(generatedTokens) / max(generationSeconds, 1e-9) }
}

extension DecoderModel {
    /// Generates up to `maxTokens` tokens after `prompt`, calling `onToken`
    /// with each as soon as it is chosen; stops early at a token in `stop`, or
    /// when prompt and output fill `context` tokens (default: the model's
    /// context length), which is a normal end, reported in the stats.
    public func generate(prompt: [Int32], maxTokens: Int, context: Int? = nil, sampler: Sampler = Sampler(), stop: Set<Int32> = [],
                         onToken: (Int32) throws -> Void) throws -> GenerationStats {
        guard !prompt.isEmpty else { throw SlimError.invalidArgument("the prompt tokenizes to nothing") }
        guard maxTokens >= 0 else { throw SlimError.invalidArgument("max tokens must not be negative") }
        let context = context ?? config.contextLength
        guard (1...config.contextLength).contains(context) else {
            throw SlimError.invalidArgument("a context of \(context) tokens: the model takes 1...\(config.contextLength)")
        }
        guard prompt.count <= context else {
            throw SlimError.invalidArgument("the prompt has \(prompt.count) tokens, more than the context of \(context)")
        }
        // Every generated token but the last is fed back, so prompt + output must fit the cache.
        let limit = min(maxTokens, context - prompt.count)
        var sampler = sampler
        let cache = try makeCache(capacity: min(context, prompt.count + max(limit, 1)))
        let promptStart = Date()
        var hidden = try hiddenStates(prompt, cache: cache)
        var logits = try backend.floats(try self.logits(hidden, rows: prompt.count - 1..<prompt.count))
        let promptSeconds = Date().timeIntervalSince(promptStart)
        let start = Date()
        var produced = 0, stoppedByToken = false
        while produced < limit {
            let token = sampler.next(logits[...])
            produced += 1
            try onToken(token)
            stoppedByToken = stop.contains(token)
            if stoppedByToken || produced == limit { break }
            hidden = try hiddenStates([token], cache: cache)
            logits = try backend.floats(try self.logits(hidden, rows: 0..<1))
        }
        let reason: GenerationStop = stoppedByToken ? .stopToken : produced == maxTokens ? .maxTokens : .contextFull
        return GenerationStats(promptTokens: prompt.count, generatedTokens: produced, promptSeconds: promptSeconds,
                               generationSeconds: Date().timeIntervalSince(start), context: context, stop: reason)
    }
}
