import Foundation
import SlimCore
import SlimModel

/// One block of a decoder under Hugging Face's names and row order (GGUF
/// query and key rows put back): what the layer-wise compressor calibrates,
/// transforms and quantizes, then drops. Norms and biases are read at once
/// (they are small); a linear is read from the source when asked for, one at
/// a time, unless a transform (AWQ) changed it and holds it here.
struct DecoderBlockWeights {
    typealias Part = DecoderTensorNames.Part
    typealias Matrix = (weights: [Float], rows: Int, columns: Int)
    let source: DecoderSource
    let index: Int
    /// The linears a transform changed, in memory.
    private(set) var linears: [Part: Matrix] = [:]
    /// Norms (as stored: Gemma's w, not 1 + w) and biases, by their output name.
    var floats: [String: (values: [Float], shape: [Int], kind: StoredKind)] = [:]
    /// Norms whose values changed (AWQ folded its scales in): written in fp32, not rounded back to 16 bits.
    var changed: Set<String> = []

    static let hf = DecoderTensorNames.huggingFace

    init(_ source: DecoderSource, block i: Int) throws {
        (self.source, index) = (source, i)
        let c = source.config, a = c.architecture
        var norms: [Part] = [.attentionNorm, .ffnNorm]
        if a.queryKeyNorm { norms += [.queryNorm, .keyNorm] }
        for part in norms {
            let name = source.names.block(i, part) + ".weight"
            let width = part == .queryNorm || part == .keyNorm ? c.headDim : c.hiddenSize
            floats[Self.hf.block(i, part) + ".weight"] = (try source.store.floats(name, shape: [width]), [width], source.storedKind(name))
        }
        func bias(_ part: Part, _ rows: Int) throws {
            let name = source.names.block(i, part) + ".bias"
            floats[Self.hf.block(i, part) + ".bias"] = (try source.store.floats(name, shape: [rows]), [rows], source.storedKind(name))
        }
        if a.queryKeyValueBias { for (part, rows) in [(Part.query, c.queryDim), (.key, c.kvDim), (.value, c.kvDim)] { try bias(part, rows) } }
        if a.attentionOutputBias { try bias(.attentionOutput, c.hiddenSize) }
        if a.mlpBias { for (part, rows) in [(Part.gate, c.intermediateSize), (.up, c.intermediateSize), (.down, c.hiddenSize)] { try bias(part, rows) } }
    }

    func name(_ part: Part) -> String { Self.hf.block(index, part) + ".weight" }

    /// A linear's weight: as transformed, else read from the source now.
    func linear(_ part: Part) throws -> Matrix { try linears[part] ?? source.linear(index, part) }

    /// `[rows, columns]` of a linear, without reading it.
    func shape(_ part: Part) throws -> (rows: Int, columns: Int) {
        if let l = linears[part] { return (l.rows, l.columns) }
        let s = try source.store.shape(of: source.names.block(index, part) + ".weight")
        return (s[0], s[1])
    }

    /// The norms and biases (as changed), and `linears`, for building a block from memory.
    func store(with linears: [Part: Matrix] = [:]) -> MemoryWeightStore {
        var s = MemoryWeightStore(origin: source.store.origin)
        for (part, l) in linears { s.floatTensors[name(part)] = (l.weights, [l.rows, l.columns]) }
        for (name, f) in floats { s.floatTensors[name] = (f.values, f.shape) }
        return s
    }

    /// The block with its source weights on `backend`, for calibration: built from the source's store
    /// directly where its rows are already in Hugging Face's order, so no host copy is made.
    func sourceBlock(on backend: any Backend) throws -> DecoderBlock {
        let c = source.config
        if source.names == .huggingFace { return try DecoderBlock(index: index, config: c, store: source.store, names: .huggingFace, on: backend) }
        let all = try Dictionary(uniqueKeysWithValues: Part.linears.map { ($0, try linear($0)) })
        return try DecoderBlock(index: index, config: c, store: store(with: all), names: .huggingFace, on: backend)
    }

    /// AWQ's scales fold away in pre-norm blocks: Q, K, V into the attention
    /// norm, gate and up into the MLP norm, down into up's rows (act(gate)·up is
    /// linear in up). Multiplies the norm `part`'s effective weight (offset + w) by `inverse`.
    mutating func foldIntoNorm(_ part: Part, _ inverse: [Float], offset: Float) {
        let key = name(part)
        floats[key]!.values = zip(floats[key]!.values, inverse).map { (offset + $0) * $1 - offset }
        changed.insert(key)
    }

    /// Divides the input columns of `parts` by `inverse` (AWQ's scaled weights W·diag(s)).
    mutating func scaleColumns(_ parts: [Part], by inverse: [Float]) throws {
        for part in parts {
            linears[part] = try linear(part)
            let columns = linears[part]!.columns
            linears[part]!.weights = linears[part]!.weights.indices.map { linears[part]!.weights[$0] / inverse[$0 % columns] }
        }
    }

    /// Multiplies the rows of `part` (and its bias) by `inverse` (down's scales folded into up).
    mutating func scaleRows(_ part: Part, by inverse: [Float]) throws {
        linears[part] = try linear(part)
        let columns = linears[part]!.columns
        linears[part]!.weights = linears[part]!.weights.indices.map { linears[part]!.weights[$0] * inverse[$0 / columns] }
        let bias = Self.hf.block(index, part) + ".bias"
        if floats[bias] != nil {
            floats[bias]!.values = zip(floats[bias]!.values, inverse).map { $0 * $1 }
            changed.insert(bias)
        }
    }
}
