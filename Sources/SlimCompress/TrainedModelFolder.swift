import Foundation
import SlimCore
import SlimModel

/// Writes a trained BERT (a distilled student, a quantization-aware or sparse
/// fine-tune) as a folder every Slim command loads: fp32 tensors, packed ones
/// where training ran through fake quantization, `config.json` from the
/// folder training started from with the given changes, the loss curve, and a
/// model card. Staged beside `output` and renamed into place when complete.
public enum TrainedModelFolder {
    public struct Tensor {
        public let name: String, shape: [Int], values: [Float]
        public init(name: String, shape: [Int], values: [Float]) { self.name = name; self.shape = shape; self.values = values }
    }

    /// - Parameters:
    ///   - base: the folder whose config, tokenizer and module files the output keeps, and whose card it extends.
    ///   - original: the model the size ratio is measured against (the teacher).
    ///   - packed: weights to store packed, by name (the fake-quantized ones); their fp32 values in `tensors` are the latent weights.
    ///   - config: keys to set (a nil value removes the key).
    public static func write(to output: URL, base: URL, original: URL, tensors: [Tensor],
                             packed: [String: (format: QuantFormat, encoded: QuantCodec.Encoded)],
                             config updates: [String: Any?], files: [String: Data], method: String, format: String,
                             training: String, seconds: Double) throws -> CompressionReport {
        var entries: [SafeTensorsWriter.Entry] = []
        var layers: [CompressionReport.Layer] = []
        for t in tensors {
            guard let p = packed[t.name] else {
                entries.append(.init(name: t.name, kind: .f32, shape: t.shape, data: t.values.withUnsafeBytes { Data($0) }))
                continue
            }
            let restored = try QuantCodec.decode(p.encoded, rows: t.shape[0], columns: t.shape[1], format: p.format)
            layers.append(.init(name: t.name, format: p.format.description, relativeError: relativeError(t.values, restored)))
            entries += PackedEntries.make(t.name, p.encoded, rows: t.shape[0])
        }
        var config = try FileReading.jsonObject(at: base.appendingPathComponent("config.json"))
        for (key, value) in updates { config[key] = value }
        let originalBytes = HuggingFaceCheckpoint.weightBytes(folder: original)
        return try CompressedFolder.write(to: output, entries: entries, config: config,
                                          earlierCard: base.appendingPathComponent("model_card.json"),
                                          maxShardBytes: CheckpointWriter.defaultMaxShardBytes,
                                          files: { staging in
                                              try StagedFolder.copyCompanionFiles(of: base, into: staging)
                                              for (name, data) in files { try writeAtomically(data, to: staging.appendingPathComponent(name)) }
                                          }) { bytesAfter in
            CompressionReport(source: original.path, sourceSHA256: "not computed", method: method, format: format, layers: layers,
                              bytesBefore: originalBytes, bytesAfter: bytesAfter, seconds: seconds, calibration: training)
        }
    }
}
