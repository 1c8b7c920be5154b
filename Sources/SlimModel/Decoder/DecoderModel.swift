import Foundation
import SlimCore

/// A decoder of any family Slim runs (``DecoderArchitecture``) on the
/// ``Backend`` ops, its weights run in the form the file stores them (GGUF
/// Q4_1/Q8_0 blocks and Slim's packed formats through the quantized GEMM,
/// never expanded to fp32).
public struct DecoderModel: Sendable {
    public let config: DecoderConfig
    public let backend: any Backend
    /// Embeddings, rotary frequencies, forward steps.
    let parts: DecoderParts
    let blocks: [DecoderBlock]
    let outputNorm: Tensor
    /// The output projection; the token embedding itself when the embeddings are tied.
    let output: Linear

    /// How the checkpoint names its tensors and orders its rotary features.
    public let names: DecoderTensorNames

    /// Loads a GGUF file. `activations: .int8PerBlock` quantizes activations
    /// per block of 32 for integer dot products (as llama.cpp does);
    /// `requantize` puts float weights into that format.
    /// `weights` says what float linear weights run as (``FloatWeights``) when `requantize` is nil.
    public init(gguf: GGUFFile, backend: any Backend, activations: ActivationPrecision = .f32,
                requantize: QuantFormat? = nil, weights: FloatWeights = .f32) throws {
        try self.init(config: try DecoderConfig(gguf: gguf), store: TensorFileWeightStore(file: gguf), file: gguf, names: .gguf,
                      backend: backend, activations: activations, requantize: requantize, weights: weights)
    }

    /// Loads a Hugging Face folder of any family (`config.json`, safetensors),
    /// plain or compressed by Slim (packed weights stay packed).
    public init(folder: URL, backend: any Backend, activations: ActivationPrecision = .f32,
                requantize: QuantFormat? = nil, weights: FloatWeights = .f32) throws {
        let configURL = folder.appendingPathComponent("config.json")
        let config = try DecoderConfig(huggingFace: configURL)
        let file = try HuggingFaceCheckpoint.open(folder: folder)
        try self.init(config: config, store: try DecoderConfig.store(file: file, config: config, configURL: configURL),
                      file: file, names: .huggingFace, backend: backend, activations: activations, requantize: requantize,
                      weights: weights)
    }

    init(config c: DecoderConfig, store: some WeightStore, file: any TensorFile, names: DecoderTensorNames, backend: any Backend,
         activations: ActivationPrecision, requantize: QuantFormat?, weights: FloatWeights = .f32) throws {
        try c.checkCounts(against: store, file: file, names: names)
        let requantize = requantize ?? weights.format(storing: FloatWeights.storedKind(of: file))
        config = c
        self.backend = backend
        self.names = names
        parts = try DecoderParts(config: c, store: store, file: file, names: names, on: backend)
        blocks = try (0..<c.layers).map {
            try DecoderBlock(index: $0, config: c, store: store, names: names, on: backend, activations: activations, requantize: requantize)
        }
        outputNorm = try store.upload(names.outputNorm + ".weight", shape: [c.hiddenSize], to: backend, offset: c.architecture.normOffset)
        output = try Linear(try c.outputWeight(in: store, names: names), in: c.hiddenSize, out: c.vocabSize, from: store, on: backend,
                            quantization: requantize.map { LinearQuantization(format: $0, activations: activations) },
                            hasBias: false, packedActivations: activations)
    }

    /// A cache for `capacity` tokens of context.
    public func makeCache(capacity: Int) throws -> KVCache {
        guard capacity > 0, capacity <= config.contextLength else {
            throw SlimError.invalidArgument("context of \(capacity) tokens: the model takes 1...\(config.contextLength)")
        }
        return try KVCache(config: config, capacity: capacity, on: backend)
    }

    /// The embeddings of `ids`, `[ids.count, hidden]`: the first blocks' input.
    public func embed(_ ids: [Int32]) throws -> Tensor { try parts.embed(ids) }

    /// Runs `ids` through every block and the final norm: `[ids.count, hidden]`.
    /// With a cache, the tokens follow those already in it and are appended;
    /// without one they are a sequence of their own.
    /// `observer` sees the input of every linear layer (calibration), by weight name.
    public func hiddenStates(_ ids: [Int32], cache: KVCache? = nil, observer: LinearInputObserver? = nil) throws -> Tensor {
        let n = ids.count
        guard n > 0 else { throw SlimError.invalidArgument("no tokens to run") }
        let step = try parts.step(tokens: n, cache: cache)
        let x = try embed(ids)
        let s = try DecoderScratch(tokens: n, config: config, on: backend)
        for block in blocks { try block.forward(x, step: step, scratch: s, observer: observer) }
        cache?.count = step.start + n
        try backend.rmsNorm(x, weight: outputNorm, epsilon: config.rmsEpsilon, into: s.normed)
        return s.normed
    }

    /// Logits `[rows.count, vocab]` of rows `rows` of `hidden` (`[tokens, hidden]`).
    public func logits(_ hidden: Tensor, rows: Range<Int>) throws -> Tensor {
        let h = config.hiddenSize
        let picked = try backend.allocate([rows.count, h], name: "picked hidden")
        try backend.copyElements(hidden, from: rows.lowerBound * h, to: picked, at: 0, count: rows.count * h)
        let out = try backend.allocate([rows.count, config.vocabSize], name: "logits")
        try output.apply(picked, into: out, on: backend)
        return out
    }
}
