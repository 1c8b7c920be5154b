import Foundation
import SlimCore

/// A checkpoint split over several `.safetensors` files by
/// `model.safetensors.index.json` (`{"metadata": {"total_size": …},
/// "weight_map": {tensor: shard file}}`), read as one ``TensorFile``: every
/// shard memory-mapped and checked as a single file is, each tensor verified
/// against its own shard's checksums when read.
///
/// The index and the shards must agree exactly, or the checkpoint is refused
/// naming the file and the tensor: a shard the index names must exist and
/// hold every tensor mapped to it; a tensor may be in one shard only; and a
/// shard may hold no tensor the index does not list (transformers would load
/// such a tensor, but whoever wrote the index did not mean it to be part of
/// the model: one of the two is stale). `metadata.total_size` is not checked:
/// transformers never reads it, and writers count it differently (storage
/// shared by tied weights, padding), so published checkpoints disagree with it.
public final class ShardedSafeTensorsFile: TensorFile {
    /// The index file.
    public let path: String
    /// The shards in the order the index first names them (its writers number them so).
    public let parts: [SafeTensorsFile]
    public let tensors: [StoredTensor]
    public let tensorsByName: [String: StoredTensor]
    /// The index's `metadata.total_size`, as written (not checked: see above).
    public let totalSize: Int?
    public var format: String { "safetensors" }
    public var shards: [MappedFile] { parts.map(\.file) }

    public convenience init(index url: URL) throws {
        let data = try withFileErrors("read the checkpoint index", path: url.path) { try Data(contentsOf: url) }
        try self.init(index: data, path: url.path) { name in
            try SafeTensorsFile(contentsOf: url.deletingLastPathComponent().appendingPathComponent(name))
        }
    }

    /// `open` reads a shard by its file name in the index; tests give one that reads from memory.
    init(index data: Data, path: String, open: (String) throws -> SafeTensorsFile) throws {
        self.path = path
        func bad(_ what: String) -> SlimError { .malformedFile(path: path, detail: what) }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw bad("not a JSON object: a checkpoint index is {\"metadata\": {...}, \"weight_map\": {tensor: shard file}}")
        }
        guard let map = object["weight_map"] as? [String: Any] else { throw bad("no 'weight_map' object (tensor name → shard file)") }
        totalSize = ((object["metadata"] as? [String: Any])?["total_size"] as? NSNumber)?.intValue
        var weightMap: [String: String] = [:], order: [String] = []
        for (tensor, value) in map.sorted(by: { $0.key < $1.key }) {
            guard let shard = value as? String else { throw bad("weight_map['\(tensor)'] is not a file name") }
            // Shards live beside the index: a name with a folder in it could reach any file on the machine.
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw bad("weight_map['\(tensor)'] is '\(shard)', not the name of a file beside the index")
            }
            weightMap[tensor] = shard
            if !order.contains(shard) { order.append(shard) }
        }
        guard !weightMap.isEmpty else { throw bad("'weight_map' lists no tensor") }
        order.sort()  // model-00001-of-0000N… sorts into shard order
        var parts: [SafeTensorsFile] = [], tensors: [StoredTensor] = [], holder: [String: String] = [:]
        for (i, name) in order.enumerated() {
            let part: SafeTensorsFile
            do { part = try open(name) } catch let SlimError.io(p, detail) {
                let example = weightMap.first { $0.value == name }!.key
                throw SlimError.io(path: p, detail: "\(detail): the shard \(name) that \(path) maps '\(example)' to")
            }
            for t in part.tensors {
                if let other = holder[t.name] {
                    throw bad("tensor '\(t.name)' is in two shards, \(other) and \(name)")
                }
                holder[t.name] = name
                guard let listed = weightMap[t.name] else {
                    throw bad("shard \(name) holds tensor '\(t.name)', which the index does not list: index and shards disagree")
                }
                guard listed == name else {
                    throw bad("tensor '\(t.name)' is in shard \(name), but the index maps it to \(listed)")
                }
                tensors.append(StoredTensor(name: t.name, kind: t.kind, shape: t.shape, byteRange: t.byteRange, shard: i))
            }
            parts.append(part)
        }
        if let missing = weightMap.keys.sorted().first(where: { holder[$0] == nil }) {
            throw bad("tensor '\(missing)' is mapped to shard \(weightMap[missing]!), which does not hold it")
        }
        self.parts = parts
        self.tensors = tensors
        tensorsByName = Self.byName(tensors)
    }

    public func verify(_ t: StoredTensor) throws {
        try parts[t.shard].verify(t)
    }
}
