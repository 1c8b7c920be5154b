import Foundation
import SlimCore

/// A decoder checkpoint opened for reading one block at a time (the
/// layer-wise compressor's source): its configuration, the weights in place
/// in the memory-mapped file, and its tokenizer. Nothing is materialised
/// until a block asks for it.
public struct DecoderSource {
    public let config: DecoderConfig
    public let store: any WeightStore
    public let file: any TensorFile
    public let names: DecoderTensorNames
    public let tokenizer: BPETokenizer
    /// The source folder (nil for a GGUF file): its config.json and companion files are kept.
    public let folder: URL?

    public init(_ url: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw SlimError.io(path: url.path, detail: "no such file or folder")
        }
        if isFolder.boolValue {
            let configURL = url.appendingPathComponent("config.json")
            if (try FileReading.jsonObject(at: configURL))["quantization_config"] != nil {
                throw SlimError.invalidArgument("\(url.path) is already quantized; compress the original model")
            }
            config = try DecoderConfig(huggingFace: configURL)
            let f = try HuggingFaceCheckpoint.open(folder: url)
            (file, store, names, folder) = (f, try DecoderConfig.store(file: f, config: config, configURL: configURL), .huggingFace, url)
            tokenizer = try BPETokenizer(huggingFaceFolder: url)
        } else {
            let gguf = try GGUFFile(contentsOf: url)
            config = try DecoderConfig(gguf: gguf)
            (file, store, names, folder) = (gguf, TensorFileWeightStore(file: gguf), .gguf, nil)
            tokenizer = try BPETokenizer(gguf: gguf)
        }
        try config.checkCounts(against: store, file: file, names: names)
    }

    /// The whole model (evaluation; calibration of methods that need it all).
    public func load(on backend: any Backend) throws -> DecoderModel {
        if let folder { return try DecoderModel(folder: folder, backend: backend) }
        return try DecoderModel(gguf: file as! GGUFFile, backend: backend)
    }

    /// The weight of one linear layer as fp32 `[rows, columns]`, in Hugging
    /// Face's row order (GGUF query and key rows are put back).
    public func linear(_ i: Int, _ part: DecoderTensorNames.Part) throws -> (weights: [Float], rows: Int, columns: Int) {
        let name = names.block(i, part) + ".weight"
        let shape = try store.shape(of: name)
        guard shape.count == 2 else { throw SlimError.malformedFile(path: store.origin, detail: "tensor '\(name)' is \(shape), not a matrix") }
        var w = try store.floats(name)
        if names == .gguf, part == .query || part == .key {
            w = DecoderTensorNames.unpermuteRows(w, rows: shape[0], columns: shape[1], heads: part == .query ? config.heads : config.kvHeads)
        }
        return (w, shape[0], shape[1])
    }

    /// The stored element type of a float tensor (what it is written back as), f32 for GGUF blocks.
    public func storedKind(_ name: String) -> StoredKind {
        guard let t = file.tensorsByName[name], [.f32, .f16, .bf16].contains(t.kind) else { return .f32 }
        return t.kind
    }

    /// Drops the file's pages from memory once block `i` is done (the file stays mapped;
    /// a later read maps what it needs in again): every page, not only the block's, so
    /// nothing accumulates over the blocks of a deep model.
    public func release(block i: Int) {
        file.releaseAll()
    }
}

/// What runs around the blocks when they are loaded one at a time: token
/// embeddings, the rotary frequencies and a forward step per sequence.
public struct DecoderParts: Sendable {
    let embedding: TokenEmbedding
    public let frequencies: Tensor
    public let config: DecoderConfig
    public let names: DecoderTensorNames
    public let backend: any Backend

    /// The parts of `source` on `backend` (a block-by-block run loads its blocks itself).
    public init(_ source: DecoderSource, on backend: any Backend) throws {
        try self.init(config: source.config, store: source.store, file: source.file, names: source.names, on: backend)
    }

    init(config c: DecoderConfig, store: some WeightStore, file: any TensorFile, names: DecoderTensorNames, on backend: any Backend) throws {
        embedding = try TokenEmbedding(store: store, file: file, name: names.tokenEmbedding + ".weight", vocabSize: c.vocabSize, width: c.hiddenSize)
        frequencies = try backend.tensor(c.inverseFrequencies(for: names), shape: [c.rotaryDim / 2], name: "rope inverse frequencies")
        (config, self.names, self.backend) = (c, names, backend)
    }

    /// The first block's input for `ids` (Gemma scales embeddings by √hidden: the fp32 rounding of the double root, as transformers).
    public func embed(_ ids: [Int32]) throws -> Tensor {
        let x = try embedding.rows(ids, on: backend)
        if config.architecture.scalesEmbeddings { try backend.scale(x, by: Float(Double(config.hiddenSize).squareRoot()), into: x) }
        return x
    }

    /// A forward step over `tokens` tokens: a sequence of their own, or after those in `cache`.
    /// `ropeStyle` overrides the checkpoint's (weights whose rows were reordered).
    public func step(tokens: Int, cache: KVCache? = nil, ropeStyle: RopeStyle? = nil) throws -> DecoderStep {
        try DecoderStep(tokens: tokens, config: config, frequencies: frequencies, ropeStyle: ropeStyle ?? names.ropeStyle, cache: cache, on: backend)
    }
}
