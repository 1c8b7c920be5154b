import Foundation
import SlimCore
import SlimModel

/// One block of a decoder read into memory under Hugging Face's names and row
/// order (GGUF query and key rows put back), as fp32: what the layer-wise
/// compressor calibrates, transforms and quantizes, then drops.
struct DecoderBlockWeights {
    typealias Part = DecoderTensorNames.Part
    let index: Int
    var linears: [Part: (weights: [Float], rows: Int, columns: Int)] = [:]
    /// Norms (as stored: Gemma's w, not 1 + w) and biases, by their output name.
    var floats: [String: (values: [Float], shape: [Int], kind: StoredKind)] = [:]
    /// Norms whose values changed (AWQ folded its scales in): written in fp32, not rounded back to 16 bits.
    var changed: Set<String> = []

    static let hf = DecoderTensorNames.huggingFace

    init(_ source: DecoderSource, block i: Int) throws {
        index = i
        let c = source.config, a = c.architecture
        for part in Part.linears { linears[part] = try source.linear(i, part) }
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

    /// The block with float weights (the source, or after a transform), for a calibration pass.
    func store(origin: String) -> MemoryWeightStore {
        var s = MemoryWeightStore(origin: origin)
        for (part, l) in linears { s.floatTensors[name(part)] = (l.weights, [l.rows, l.columns]) }
        for (name, f) in floats { s.floatTensors[name] = (f.values, f.shape) }
        return s
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
    mutating func scaleColumns(_ parts: [Part], by inverse: [Float]) {
        for part in parts {
            let columns = linears[part]!.columns
            linears[part]!.weights = linears[part]!.weights.indices.map { linears[part]!.weights[$0] / inverse[$0 % columns] }
        }
    }

    /// Multiplies the rows of `part` (and its bias) by `inverse` (down's scales folded into up).
    mutating func scaleRows(_ part: Part, by inverse: [Float]) {
        let columns = linears[part]!.columns
        linears[part]!.weights = linears[part]!.weights.indices.map { linears[part]!.weights[$0] * inverse[$0 / columns] }
        let bias = Self.hf.block(index, part) + ".bias"
        if floats[bias] != nil {
            floats[bias]!.values = zip(floats[bias]!.values, inverse).map { $0 * $1 }
            changed.insert(bias)
        }
    }
}
