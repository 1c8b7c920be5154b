import Foundation
import SlimCore

/// A Llama-architecture decoder on the ``Backend`` ops, its weights run in the
/// form the file stores them (GGUF Q4_1/Q8_0 blocks through the quantized
/// GEMM, never expanded to fp32).
public struct LlamaModel: Sendable {
    public let config: LlamaConfig
    public let backend: any Backend
    let embedding: TokenEmbedding
    let blocks: [LlamaBlock]
    let outputNorm: Tensor
    /// The output projection; the token embedding itself when the file has no `output.weight`.
    let output: Linear

    /// How the checkpoint names its tensors and orders its rotary features.
    public let names: LlamaTensorNames

    /// Loads a GGUF file. `activations: .int8PerBlock` quantizes activations
    /// per block of 32 for integer dot products (as llama.cpp does);
    /// `requantize` puts float weights into that format.
    public init(gguf: GGUFFile, backend: any Backend, activations: ActivationPrecision = .f32,
                requantize: QuantFormat? = nil) throws {
        try self.init(config: try LlamaConfig(gguf: gguf), store: TensorFileWeightStore(file: gguf), file: gguf, names: .gguf,
                      backend: backend, activations: activations, requantize: requantize)
    }

    /// Loads a Hugging Face Llama folder (`config.json`, `model.safetensors`),
    /// plain or compressed by Slim (packed weights stay packed).
    public init(folder: URL, backend: any Backend, activations: ActivationPrecision = .f32,
                requantize: QuantFormat? = nil) throws {
        let configURL = folder.appendingPathComponent("config.json")
        let file = try HuggingFaceCheckpoint.open(folder: folder)
        try self.init(config: try LlamaConfig(huggingFace: configURL), store: try PackedWeightStore(file: file, config: configURL),
                      file: file, names: .huggingFace, backend: backend, activations: activations, requantize: requantize)
    }

    init(config c: LlamaConfig, store: some WeightStore, file: any TensorFile, names: LlamaTensorNames, backend: any Backend,
         activations: ActivationPrecision, requantize: QuantFormat?) throws {
        try c.checkCounts(against: store, file: file, names: names)
        config = c
        self.backend = backend
        self.names = names
        embedding = try TokenEmbedding(store: store, file: file, name: names.tokenEmbedding + ".weight", vocabSize: c.vocabSize, width: c.hiddenSize)
        blocks = try (0..<c.layers).map {
            try LlamaBlock(index: $0, config: c, store: store, names: names, on: backend, activations: activations, requantize: requantize)
        }
        outputNorm = try store.upload(names.outputNorm + ".weight", shape: [c.hiddenSize], to: backend)
        let tied = !store.contains(names.output + ".weight")
        output = try Linear(tied ? names.tokenEmbedding : names.output, in: c.hiddenSize, out: c.vocabSize, from: store, on: backend,
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

    /// Runs `ids` through every block and the final norm: `[ids.count, hidden]`.
    /// With a cache, the tokens follow those already in it and are appended;
    /// without one they are a sequence of their own.
    /// `observer` sees the input of every linear layer (calibration), by weight name.
    public func hiddenStates(_ ids: [Int32], cache: KVCache? = nil, observer: LinearInputObserver? = nil) throws -> Tensor {
        let c = config, n = ids.count, start = cache?.count ?? 0
        guard n > 0 else { throw SlimError.invalidArgument("no tokens to run") }
        guard start + n <= (cache?.capacity ?? c.contextLength) else {
            throw SlimError.invalidArgument("\(start + n) tokens exceed the context of \(cache?.capacity ?? c.contextLength)")
        }
        let b = backend
        let x = try embedding.rows(ids, on: b)
        let positions = try b.tensor((0..<n).map { Int32(start + $0) }, shape: [n], dtype: .i32, name: "positions")
        let s = try LlamaScratch(tokens: n, config: c, on: b)
        let attention = try attentionPlan(tokens: n, start: start, cache: cache)
        for (l, block) in blocks.enumerated() {
            try b.rmsNorm(x, weight: block.attentionNorm, epsilon: c.rmsEpsilon, into: s.normed)
            try observer?(block.query.name, s.normed)
            try block.query.apply(s.normed, into: s.q, on: b)
            try block.key.apply(s.normed, into: s.k, on: b)
            try block.value.apply(s.normed, into: s.v, on: b)
            try b.rope(try s.q.reshaped([n, c.heads, c.headDim]), positions: positions, base: c.ropeBase, rotaryDim: c.rotaryDim, style: names.ropeStyle)
            try b.rope(try s.k.reshaped([n, c.kvHeads, c.headDim]), positions: positions, base: c.ropeBase, rotaryDim: c.rotaryDim, style: names.ropeStyle)
            var keys = try s.k.reshaped([1, n, c.kvHeads, c.headDim]), values = try s.v.reshaped([1, n, c.kvHeads, c.headDim])
            if let cache {
                try b.copyElements(s.k, from: 0, to: cache.keys[l], at: start * c.kvDim, count: n * c.kvDim)
                try b.copyElements(s.v, from: 0, to: cache.values[l], at: start * c.kvDim, count: n * c.kvDim)
                keys = cache.keys[l]
                values = cache.values[l]
            }
            try b.attention(try s.q.reshaped([1, n, c.heads, c.headDim]), keys, values, layout: attention.layout,
                            options: attention.options, into: try s.context.reshaped([1, n, c.heads, c.headDim]), logSumExp: nil)
            try observer?(block.output.name, s.context)
            try block.output.apply(s.context, into: s.q, on: b)
            try b.add(x, s.q, into: x)
            try b.rmsNorm(x, weight: block.ffnNorm, epsilon: c.rmsEpsilon, into: s.normed)
            try observer?(block.gate.name, s.normed)
            try block.gate.apply(s.normed, into: s.gate, on: b)
            try block.up.apply(s.normed, into: s.up, on: b)
            try b.swiglu(s.gate, s.up, into: s.gate)
            try observer?(block.down.name, s.gate)
            try block.down.apply(s.gate, into: s.q, on: b)
            try b.add(x, s.q, into: x)
        }
        cache?.count = start + n
        try b.rmsNorm(x, weight: outputNorm, epsilon: c.rmsEpsilon, into: s.normed)
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

    /// Causal attention of `tokens` new queries: against themselves, or against
    /// the cache (whose unused tail is masked) when there is one.
    private func attentionPlan(tokens n: Int, start: Int, cache: KVCache?) throws -> (layout: BlockSparseLayout, options: AttentionOptions) {
        let scale = 1 / Float(config.headDim).squareRoot()
        let keyLength = cache?.capacity ?? n
        let block = min(64, max(16, (n + 15) / 16 * 16))
        let visible = start + n
        // Query block r sees key blocks up to the one holding its last query's position.
        let rows = (0..<(n + block - 1) / block).map { r in
            Array(0...(min(visible, start + min(n, (r + 1) * block)) - 1) / block)
        }
        let layout = try BlockSparseLayout(queryLength: n, keyLength: keyLength, blockSize: block, rows: rows, causal: true)
        let lengths = cache == nil ? nil : try backend.tensor([Int32(visible)], shape: [1], dtype: .i32, name: "cache length")
        return (layout, AttentionOptions(scale: scale, keyLengths: lengths, queryOffset: start))
    }
}

/// The activations of one forward pass.
struct LlamaScratch {
    let normed: Tensor, q: Tensor, k: Tensor, v: Tensor, context: Tensor, gate: Tensor, up: Tensor

    init(tokens n: Int, config c: LlamaConfig, on b: any Backend) throws {
        normed = try b.allocate([n, c.hiddenSize], name: "normed")
        q = try b.allocate([n, c.hiddenSize], name: "query")
        k = try b.allocate([n, c.kvDim], name: "key")
        v = try b.allocate([n, c.kvDim], name: "value")
        context = try b.allocate([n, c.hiddenSize], name: "context")
        gate = try b.allocate([n, c.intermediateSize], name: "gate")
        up = try b.allocate([n, c.intermediateSize], name: "up")
    }
}
