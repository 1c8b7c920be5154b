import Foundation
import SlimCore
import SlimModel

/// Writing a compressed model folder: the source's tokenizer and
/// sentence-transformers files copied, new weights, `config.json` with a
/// description of what was done, and the model card. Everything is staged in
/// a hidden folder beside the output and renamed into place when complete.
enum CompressedFolder {
    /// Checks and locks `output` for the whole run (OutputPolicy): the model
    /// and the calibration text are inputs it must not touch.
    static func claim(_ output: URL, source: URL, calibration: String?, overwrite: Bool) throws -> OutputClaim {
        let inputs = [source] + [calibration].compactMap { $0 }.filter { FileManager.default.fileExists(atPath: $0) }
            .map { URL(fileURLWithPath: $0) }
        return try OutputPolicy.claimFolder(output, inputs: inputs, overwrite: overwrite)
    }

    static func write(from source: URL, to output: URL, entries: [SafeTensorsWriter.Entry], configKey: String,
                      configValue: [String: Any], configUpdates: [String: Any] = [:], maxShardBytes: Int,
                      report: (Int) throws -> CompressionReport) throws -> CompressionReport {
        var config = try FileReading.jsonObject(at: source.appendingPathComponent("config.json"))
        config[configKey] = configValue
        config.merge(configUpdates) { $1 }
        return try write(to: output, entries: entries, config: config, earlierCard: source.appendingPathComponent("model_card.json"),
                         maxShardBytes: maxShardBytes, files: { try StagedFolder.copyCompanionFiles(of: source, into: $0) }, report: report)
    }

    /// Stages `files` (what else the folder holds), the weights `entries`,
    /// `config` and the card, then renames the folder into place.
    static func write(to output: URL, entries: [SafeTensorsWriter.Entry], config: [String: Any], earlierCard: URL?, maxShardBytes: Int,
                      files: (URL) throws -> Void, report: (Int) throws -> CompressionReport) throws -> CompressionReport {
        try write(to: output, config: { config }, earlierCard: earlierCard, maxShardBytes: maxShardBytes, files: files,
                  tensors: { writer in for e in entries { try writer.append(e) } }, report: report)
    }

    /// As above, the weights given one at a time: `tensors` appends them to
    /// the writer as they are made (a streaming pipeline drops each block's
    /// tensors once appended); shards are closed, named and indexed after it
    /// returns. `config` is asked for after them (it may describe what they were); `report` gets the bytes of the written shards.
    static func write(to output: URL, config: () throws -> [String: Any], earlierCard: URL?, maxShardBytes: Int, files: (URL) throws -> Void,
                      tensors: (CheckpointWriter) throws -> Void, report: (Int) throws -> CompressionReport) throws -> CompressionReport {
        try StagedFolder.write(to: output) { staging in
            try files(staging)
            let writer = try CheckpointWriter(folder: staging, maxShardBytes: maxShardBytes, metadata: ["slim": "compressed"])
            try tensors(writer)
            let weights = try writer.finish()
            try JSONSerialization.data(withJSONObject: try config(), options: [.prettyPrinted, .sortedKeys])
                .write(to: staging.appendingPathComponent("config.json"))
            let result = try report(weights.fileBytes)
            var card = ModelCard(report: result)
            // A chained step (quantizing a pruned model) keeps the earlier steps' cards.
            if let earlierCard, let earlier = try? FileReading.jsonObject(at: earlierCard) {
                card.history = ((earlier["history"] as? [[String: Any]]) ?? []) + [earlier.filter { $0.key != "history" && $0.key != OutputPolicy.cardFilesKey }]
            }
            try card.write(to: staging)
            return result
        }
    }
}
