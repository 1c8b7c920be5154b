import Foundation
import SlimCore
import SlimModel

/// The model a compression step reads: a BERT folder's config, weights, and
/// the names of the weights compression touches. Quantized folders are
/// refused (pruned and low-rank ones are fp32 and chain).
struct BertSource {
    let folder: URL
    let config: BertConfig
    let file: any TensorFile
    /// Checkpoints saved from `BertForX` prefix every name with `bert.`.
    let prefix: String
    let linears: Set<String>

    init(_ folder: URL, step: String) throws {
        let configURL = folder.appendingPathComponent("config.json")
        if (try FileReading.jsonObject(at: configURL))["quantization_config"] != nil {
            throw SlimError.invalidArgument("\(folder.path) is already quantized; \(step) the fp32 (or pruned) model, then quantize")
        }
        guard case let .bert(config) = try ModelConfig.load(configURL) else {
            throw SlimError.unsupported(op: step, backend: "model", reason: "\(folder.path) is not a BERT encoder")
        }
        self.folder = folder
        self.config = config
        file = try HuggingFaceCheckpoint.open(folder: folder)
        // Tensors a step does not change are copied unread: scan them all first.
        try file.checkFiniteWeights()
        prefix = file.tensors.contains { $0.name.hasPrefix("bert.") } ? "bert." : ""
        linears = Set(CompressionTargets.bertLinears(config, prefix: prefix))
    }

    var wordEmbeddings: String { CompressionTargets.bertWordEmbeddings(prefix: prefix) }
    var tables: Set<String> { CompressionTargets.bertTables(prefix: prefix) }
    var pooler: String { CompressionTargets.bertPooler(prefix: prefix) }

    func sha256(_ enabled: Bool) -> String { enabled ? file.contentSHA256() : "not computed" }

    /// The tensor copied unchanged into the output.
    func unchanged(_ t: StoredTensor) throws -> SafeTensorsWriter.Entry {
        .init(name: t.name, kind: t.kind, shape: t.shape, data: Data(try file.bytes(of: t)))
    }
}
