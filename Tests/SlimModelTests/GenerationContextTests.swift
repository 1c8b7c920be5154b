import Foundation
import SlimCore
import SlimCPU
@testable import SlimModel
import Testing

/// Generation that reaches the end of the model's context stops there
/// cleanly, with what it produced, instead of failing after streaming it.
@Suite(.serialized) struct GenerationContextTests {
    static let prompt: [Int32] = [504, 6132, 2342, 6641, 22463]

    /// SmolLM2 with its context cut to `length` tokens, as a model trained on short texts declares.
    static func model(context length: Int) throws -> DecoderModel {
        let gguf = try GGUFFile(contentsOf: try TestAssets.smolLM2)
        var c = try DecoderConfig(gguf: gguf)
        c.contextLength = length
        return try DecoderModel(config: c, store: TensorFileWeightStore(file: gguf), file: gguf, names: .gguf, backend: CPUBackend(),
                              activations: .f32, requantize: nil)
    }

    @Test func generationStopsWhenPromptAndTextFillTheContext() throws {
        let model = try Self.model(context: 8)
        var tokens: [Int32] = []
        let stats = try model.generate(prompt: Self.prompt, maxTokens: 20) { tokens.append($0) }
        // 5 prompt tokens + 3 generated fill the 8 positions.
        #expect(tokens.count == 3 && stats.generatedTokens == 3, "\(tokens)")
        #expect(stats.stop == .contextFull && stats.context == 8)
        // The same tokens as a run that stops by --max-tokens (the end changes nothing before it).
        var shorter: [Int32] = []
        let three = try model.generate(prompt: Self.prompt, maxTokens: 3) { shorter.append($0) }
        #expect(shorter == tokens && three.stop == .maxTokens)
        // A prompt that fills the context leaves room for nothing, which is not an error either.
        let full = try model.generate(prompt: Self.prompt + [30, 49, 555], maxTokens: 4) { _ in Issue.record("no room for a token") }
        #expect(full.generatedTokens == 0 && full.stop == .contextFull)
    }

    @Test func aContextBelowTheModelsIsAnOptionAndAPromptMustFit() throws {
        let model = try Self.model(context: 64)
        let stats = try model.generate(prompt: Self.prompt, maxTokens: 20, context: 7) { _ in }
        #expect(stats.generatedTokens == 2 && stats.stop == .contextFull && stats.context == 7)
        for (context, message) in [(4, "the prompt has 5 tokens, more than the context of 4"), (65, "1...64")] {
            #expect { try model.generate(prompt: Self.prompt, maxTokens: 2, context: context) { _ in } } throws: { error in
                (error as? SlimError)?.description.contains(message) == true
            }
        }
    }
}
