import Foundation
import SlimCore
import SlimModel

/// Replaces every linear weight of a BERT folder by two low-rank factors
/// (truncated SVD), kept as fp32 tensors `….lowrank_a` / `….lowrank_b`.
public struct ModelLowRank {
    /// Either a fraction of each layer's parameters to keep, or a fixed rank.
    public enum Size: Sendable { case keep(Double), rank(Int) }
    public let size: Size
    /// The largest weights file written (transformers' `max_shard_size`): more weights go to several shards and an index.
    public var maxShardBytes = CheckpointWriter.defaultMaxShardBytes

    public init(size: Size) { self.size = size }

    public func factorize(_ source: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                          progress: ((Int, Int, String) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        let claim = try CompressedFolder.claim(output, source: source, calibration: nil, overwrite: overwrite)
        defer { claim.release() }
        let model = try BertSource(source, step: "factorize"), file = model.file
        var entries: [SafeTensorsWriter.Entry] = []
        var layers: [CompressionReport.Layer] = []
        var ranks: [String: Int] = [:]
        for (index, t) in file.tensors.enumerated() {
            progress?(index, file.tensors.count, t.name)
            guard model.linears.contains(t.name), t.shape.count == 2 else {
                entries.append(try model.unchanged(t))
                continue
            }
            let (n, k) = (t.shape[0], t.shape[1])
            let rank = switch size {
            case let .keep(f): LowRankFactors.rank(keeping: f, rows: n, columns: k)
            case let .rank(r): min(r, min(n, k))
            }
            let w = try file.floats(t)
            let f = try LowRankFactors(w, rows: n, columns: k, rank: rank)
            layers.append(.init(name: t.name, format: "rank \(f.rank)", relativeError: relativeError(w, f.product)))
            ranks[t.name] = f.rank
            entries += Self.entries(t.name, f)
        }
        let description = switch size {
        case let .keep(f): "keep \(f) of the parameters"
        case let .rank(r): "rank \(r)"
        }
        return try CompressedFolder.write(from: source, to: output, entries: entries, configKey: "lowrank_config",
                                          configValue: ["method": "svd", "size": description, "layers": ranks], maxShardBytes: maxShardBytes) { bytesAfter in
            CompressionReport(source: source.path, sourceSHA256: model.sha256(hashSource),
                              method: "svd", format: description, layers: layers, bytesBefore: file.fileBytes,
                              bytesAfter: bytesAfter, seconds: Date().timeIntervalSince(start),
                              calibration: "none (truncated SVD of the weights)")
        }
    }
}

extension ModelLowRank {
    /// The two fp32 factor tensors of `weight`, named as ``PackedNames`` says.
    static func entries(_ weight: String, _ f: LowRankFactors) -> [SafeTensorsWriter.Entry] {
        [.init(name: PackedNames.factorA(weight), kind: .f32, shape: [f.rows, f.rank], data: f.a.withUnsafeBytes { Data($0) }),
         .init(name: PackedNames.factorB(weight), kind: .f32, shape: [f.rank, f.columns], data: f.b.withUnsafeBytes { Data($0) })]
    }
}
