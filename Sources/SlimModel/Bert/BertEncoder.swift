import SlimCore

/// A BERT encoder on the ``Backend`` ops: embeddings (word + position + token
/// type, layer-normed), then the encoder blocks. Sequences of a batch are
/// padded to the longest; padded keys are masked in attention, and padded
/// rows are computed but never read.
public struct BertEncoder: Sendable {
    public let config: BertConfig
    public let backend: any Backend
    let wordEmbeddings: EmbeddingTable, positionEmbeddings: EmbeddingTable, typeEmbeddings: Tensor
    let embeddingNorm: LayerNormWeights
    let layers: [BertLayer]

    /// Loads the weights from `store` onto `backend`. Checkpoints saved from
    /// `BertForX` prefix every name with `bert.`; both spellings load.
    public init(config c: BertConfig, weights store: some WeightStore, backend: any Backend,
                quantization: LinearQuantization? = nil) throws {
        let prefix = store.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        let h = c.hiddenSize
        config = c
        self.backend = backend
        wordEmbeddings = try EmbeddingTable(prefix + "embeddings.word_embeddings.weight", rows: c.vocabSize, width: h, from: store, on: backend)
        positionEmbeddings = try EmbeddingTable(prefix + "embeddings.position_embeddings.weight", rows: c.maxPositions, width: h,
                                                from: store, on: backend)
        typeEmbeddings = try store.upload(prefix + "embeddings.token_type_embeddings.weight", shape: [c.typeVocabSize, h], to: backend)
        embeddingNorm = try LayerNormWeights(prefix + "embeddings.LayerNorm", width: h, epsilon: c.layerNormEpsilon,
                                             from: store, on: backend)
        layers = try (0..<c.layers).map {
            try BertLayer(index: $0, prefix: prefix, config: c, from: store, on: backend, quantization: quantization)
        }
    }

    /// The last hidden states `[batch·sequence, hidden]` of a padded batch, on the backend.
    public func hiddenStates(_ batch: EncoderBatch, observer: LinearInputObserver? = nil) throws -> Tensor {
        let c = config, rows = batch.batch * batch.sequence
        guard batch.sequence <= c.maxPositions else {
            throw SlimError.invalidArgument("sequence of \(batch.sequence) tokens exceeds the model's \(c.maxPositions) positions")
        }
        if let bad = batch.ids.first(where: { !(0..<Int32(c.vocabSize)).contains($0) }) {
            throw SlimError.invalidArgument("token id \(bad) is outside the vocabulary of \(c.vocabSize)")
        }
        if let bad = batch.tokenTypes.first(where: { !(0..<Int32(c.typeVocabSize)).contains($0) }) {
            throw SlimError.invalidArgument("token type \(bad) is outside 0..<\(c.typeVocabSize)")
        }
        let positions = (0..<rows).map { Int32($0 % batch.sequence) }
        let x = try backend.allocate([rows, c.hiddenSize], name: "hidden")
        let sum = try backend.allocate([rows, c.hiddenSize], name: "embedding sum")
        try wordEmbeddings.lookup(batch.ids, into: sum, on: backend)
        try positionEmbeddings.lookup(positions, into: x, on: backend)
        try backend.add(sum, x, into: sum)
        try backend.embedding(try backend.tensor(batch.tokenTypes, shape: [rows], dtype: .i32), table: typeEmbeddings, into: x)
        try backend.add(sum, x, into: sum)
        try embeddingNorm.apply(sum, into: x, on: backend)

        let keyLengths = try backend.tensor(batch.lengths.map { Int32($0) }, shape: [batch.batch], dtype: .i32, name: "key lengths")
        let scratch = try BertScratch(batch: batch.batch, sequence: batch.sequence, config: c, keyLengths: keyLengths, on: backend)
        for layer in layers { try layer.forward(x, scratch, on: backend, observer: observer) }
        return x
    }

    /// Every linear layer, block by block (query, key, value, output, intermediate, down).
    public var linearLayers: [Linear] {
        layers.flatMap { [$0.query, $0.key, $0.value, $0.output, $0.intermediate, $0.down] }
    }

    /// The attention heads and MLP width of each block (narrower than the config's after structured pruning).
    public var layerWidths: [(heads: Int, intermediate: Int)] { layers.map { ($0.heads, $0.intermediateSize) } }

    /// Bytes of weights on the device.
    public var weightBytes: Int {
        wordEmbeddings.byteCount + positionEmbeddings.byteCount
            + [typeEmbeddings, embeddingNorm.gamma, embeddingNorm.beta].reduce(0) { $0 + $1.byteCount }
            + layers.reduce(0) { total, l in
                total + [l.query, l.key, l.value, l.output, l.intermediate, l.down].reduce(0) { $0 + $1.byteCount }
                    + 4 * l.attentionNorm.gamma.byteCount
            }
    }
}

/// A padded batch of token sequences, row-major `[batch, sequence]`.
public struct EncoderBatch: Sendable {
    public let batch: Int, sequence: Int
    public let ids: [Int32], tokenTypes: [Int32]
    /// Tokens per sequence before padding.
    public let lengths: [Int]

    public init(sequences: [[Int32]], padID: Int32 = 0) {
        let longest = sequences.map(\.count).max() ?? 0
        batch = sequences.count
        sequence = longest
        lengths = sequences.map(\.count)
        ids = sequences.flatMap { $0 + Array(repeating: padID, count: longest - $0.count) }
        tokenTypes = Array(repeating: 0, count: ids.count)
    }
}

/// An embedding table (words, positions): on the device in fp32, or packed
/// on the host as a compressed folder stores it, where only the rows a batch
/// uses are decoded.
enum EmbeddingTable: Sendable {
    case device(Tensor)
    case packed(PackedWeight)

    init(_ name: String, rows: Int, width: Int, from store: some WeightStore, on backend: any Backend) throws {
        if let p = try store.packed(name) {
            guard p.rows == rows, p.columns == width else {
                throw SlimError.malformedFile(path: store.origin, detail: "packed '\(name)' is \(p.rows)x\(p.columns), the config implies \(rows)x\(width)")
            }
            self = .packed(p)
        } else {
            self = .device(try store.upload(name, shape: [rows, width], to: backend))
        }
    }

    /// `out[i] = table[ids[i]]` (ids already validated).
    func lookup(_ ids: [Int32], into out: Tensor, on backend: any Backend) throws {
        switch self {
        case let .device(table):
            try backend.embedding(try backend.tensor(ids, shape: [ids.count], dtype: .i32), table: table, into: out)
        case let .packed(table):
            try backend.write(try ids.flatMap { try table.row(Int($0)) }, to: out)
        }
    }

    var byteCount: Int {
        switch self {
        case let .device(t): t.byteCount
        case let .packed(p): p.encoded.data.count + 4 * p.encoded.scales.count + p.encoded.zeros.count
        }
    }
}
