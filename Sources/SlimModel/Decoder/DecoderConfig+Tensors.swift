import Foundation
import SlimCore

extension DecoderConfig {
    /// The weights of a Hugging Face folder's tensors as the block reads them:
    /// packed where Slim (or GPTQ, AWQ, compressed-tensors) compressed them, Phi-3's fused projections split.
    public static func store(file: any TensorFile, config: DecoderConfig, configURL: URL) throws -> any WeightStore {
        let packed = try CheckpointQuantization.store(file: file, folder: configURL.deletingLastPathComponent())
        return config.architecture.fusedProjections ? FusedWeightStore(packed, config: config) : packed
    }

    /// The weight the output projection reads: the token table when tied,
    /// else the output weight, which must then be there.
    public func outputWeight(in store: some WeightStore, names: DecoderTensorNames) throws -> String {
        if tiedEmbeddings { return names.tokenEmbedding }
        guard store.contains(names.output + ".weight") else {
            throw SlimError.malformedFile(path: store.origin, detail: "no tensor '\(names.output).weight', and the config does not tie the output to the token embeddings (tie_word_embeddings)")
        }
        return names.output
    }

    /// Checks the counts the metadata gives against the tensors the file
    /// holds, before anything is sized from them: a `block_count` of
    /// 0xFFFFFFFF made the model reserve an array of four billion blocks
    /// (15 TB, an abort) and the compressor a table of as many entries.
    /// The shapes of every block are still checked as each weight loads;
    /// this names the metadata key behind a mismatch.
    public func checkCounts(against store: some WeightStore, file: any TensorFile, names: DecoderTensorNames) throws {
        let keys = names == .gguf ? Keys.gguf(vocabFromTokens: false) : Keys.huggingFace
        let check = ConfigCheck(path: file.path)
        // Blocks present: consecutive from 0, bounded by the number of tensors.
        var present = 0
        while present < file.tensors.count, store.contains(names.block(present, .query) + ".weight") { present += 1 }
        guard present == layers else {
            throw check.bad(keys.layers, "is \(layers), but the file holds \(present) blocks ('\(names.block(0, .query)).weight' onwards)")
        }
        // Plain tensors only: a packed one's shape would cost reading it here.
        let shapes = Dictionary(file.tensors.map { ($0.name, $0.shape) }) { first, _ in first }
        if let table = shapes[names.tokenEmbedding + ".weight"], table.count == 2 {
            guard table[0] == vocabSize else {
                throw check.bad(keys.vocab, "is \(vocabSize), but '\(names.tokenEmbedding).weight' has \(table[0]) rows")
            }
            guard table[1] == hiddenSize else {
                throw check.bad(keys.hidden, "is \(hiddenSize), but '\(names.tokenEmbedding).weight' has \(table[1]) columns")
            }
        }
        if let k = shapes[names.block(0, .key) + ".weight"], k.count == 2, k[0] != kvDim {
            throw check.bad(keys.kvHeads, "is \(kvHeads): \(kvHeads) heads of \(headDim) are \(kvDim) rows, but '\(names.block(0, .key)).weight' has \(k[0])")
        }
        if let up = shapes[names.block(0, .up) + ".weight"], up.count == 2, up[0] != intermediateSize {
            throw check.bad(keys.intermediate, "is \(intermediateSize), but '\(names.block(0, .up)).weight' has \(up[0]) rows")
        }
    }
}
