import Foundation
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a model's weights into a folder tensor by tensor, in shards as
/// transformers' `save_pretrained` makes them, never holding a shard in
/// memory: each tensor's bytes go to the end of a data file as they come
/// (hashed on the way for ``TensorChecksums``); when a shard closes, its
/// safetensors header is written and the data copied after it in slices.
///
/// Shards follow `huggingface_hub.split_torch_state_dict_into_shards`: in the
/// order tensors come, a shard is closed before the tensor that would take it
/// past `maxShardBytes` (tensor bytes, headers not counted); a tensor larger
/// than the limit gets a shard of its own. One shard is `model.safetensors`;
/// several are `model-00001-of-0000N.safetensors` with
/// `model.safetensors.index.json` (`metadata.total_size`, `weight_map`).
///
/// Everything, scratch files included, is written inside `folder`, which is
/// meant to be a staging folder (``StagedFolder/write(to:_:)``): a kill at
/// any moment leaves the output untouched. Scratch files are hidden
/// (`.shard-*`) and gone once ``finish()`` returns.
public final class CheckpointWriter {
    public static let defaultMaxShardBytes = 2_000_000_000

    /// What ``finish()`` wrote.
    public struct Written: Sendable {
        /// File names inside the folder: the shards, then the index when there is one.
        public let files: [String]
        /// Bytes of the tensors' data (the index's `total_size`).
        public let tensorBytes: Int
        /// Bytes of the shards on disk, headers included (the index is not
        /// counted, as ``TensorFile/fileBytes`` of a checkpoint counts none).
        public let fileBytes: Int
    }

    public let folder: URL
    public let maxShardBytes: Int
    private let metadata: [String: String]
    /// Closed shards, in the order transformers numbers them, with their tensors.
    private var closed: [(scratch: URL, tensors: [String])] = []
    private var open: Shard?
    private var names = Set<String>()
    /// Scratch files are numbered as shards open; shards are numbered as they close.
    private var opened = 0
    private var tensorBytes = 0
    private var finished = false

    /// `metadata` goes into every shard's `__metadata__` (with `format: pt`, which transformers expects).
    public init(folder: URL, maxShardBytes: Int = defaultMaxShardBytes, metadata: [String: String] = [:]) throws {
        guard maxShardBytes > 0 else { throw SlimError.invalidArgument("the largest shard size must be positive, not \(maxShardBytes) bytes") }
        self.folder = folder
        self.maxShardBytes = maxShardBytes
        self.metadata = ["format": "pt"].merging(metadata) { $1 }
    }

    deinit {
        // Abandoned (an error upstream): the scratch files go; the staging folder goes with them anyway.
        if let open { try? FileManager.default.removeItem(at: open.dataURL) }
    }

    public func append(_ entry: SafeTensorsWriter.Entry) throws {
        guard !finished else { throw SlimError.invalidArgument("tensor '\(entry.name)' appended after the checkpoint was finished") }
        try SafeTensorsHeader.check(entry, origin: folder.path)
        guard names.insert(entry.name).inserted else { throw SlimError.invalidArgument("tensor name '\(entry.name)' is used twice") }
        let size = entry.data.count
        tensorBytes += size
        if size > maxShardBytes {
            let own = try newShard()
            try own.append(entry)
            try close(own)
            return
        }
        if let shard = open, !shard.header.isEmpty, shard.header.dataBytes + size > maxShardBytes {
            try close(shard)
            open = nil
        }
        if open == nil { open = try newShard() }
        try open!.append(entry)
    }

    /// Closes the last shard, names the shards and writes the index; the writer takes no more tensors.
    public func finish() throws -> Written {
        guard !finished else { throw SlimError.invalidArgument("\(folder.path): the checkpoint was finished already") }
        finished = true
        // No tensors at all still makes a (valid, empty) model.safetensors.
        if closed.isEmpty && open == nil { open = try newShard() }
        if let shard = open {
            try close(shard)
            open = nil
        }
        var files: [String] = [], weightMap: [String: String] = [:]
        for (i, shard) in closed.enumerated() {
            let name = closed.count == 1 ? HuggingFaceCheckpoint.singleFile : HuggingFaceCheckpoint.shardFile(i + 1, of: closed.count)
            let target = folder.appendingPathComponent(name)
            guard rename(shard.scratch.path, target.path) == 0 else {
                throw SlimError.io(path: target.path, detail: "renaming \(shard.scratch.lastPathComponent) to it failed: \(String(cString: strerror(errno)))")
            }
            files.append(name)
            for t in shard.tensors { weightMap[t] = name }
        }
        if closed.count > 1 {
            let index: [String: Any] = ["metadata": ["total_size": tensorBytes], "weight_map": weightMap]
            let json = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try writeAtomically(json + Data("\n".utf8), to: folder.appendingPathComponent(HuggingFaceCheckpoint.indexFile))
            files.append(HuggingFaceCheckpoint.indexFile)
        }
        let fileBytes = try files.filter { $0 != HuggingFaceCheckpoint.indexFile }.reduce(0) { total, name in
            let path = folder.appendingPathComponent(name).path
            let attributes = try withFileErrors("measure the written file", path: path) { try FileManager.default.attributesOfItem(atPath: path) }
            return total + ((attributes[.size] as? Int) ?? 0)
        }
        return Written(files: files, tensorBytes: tensorBytes, fileBytes: fileBytes)
    }

    private func newShard() throws -> Shard {
        opened += 1
        return try Shard(scratchIn: folder, number: opened, metadata: metadata)
    }

    /// Writes `shard`'s header, then its data after it, into its scratch file.
    private func close(_ shard: Shard) throws {
        try shard.close()
        closed.append((shard.fileURL, shard.header.claims.map(\.name)))
    }
}

/// One shard being written: its header so far and its data in a scratch file.
private final class Shard {
    let dataURL: URL, fileURL: URL
    private(set) var header: SafeTensorsHeader
    private let data: FileHandle

    init(scratchIn folder: URL, number: Int, metadata: [String: String]) throws {
        let dataURL = folder.appendingPathComponent(".shard-\(number).data")
        self.dataURL = dataURL
        fileURL = folder.appendingPathComponent(".shard-\(number).safetensors")
        header = SafeTensorsHeader(metadata: metadata, origin: fileURL.path)
        data = try withFileErrors("create a shard's data file", path: dataURL.path) {
            guard FileManager.default.createFile(atPath: dataURL.path, contents: nil) else {
                throw SlimError.io(path: dataURL.path, detail: "cannot create it")
            }
            return try FileHandle(forWritingTo: dataURL)
        }
    }

    func append(_ entry: SafeTensorsWriter.Entry) throws {
        try header.append(entry)
        try withFileErrors("append tensor '\(entry.name)'", path: dataURL.path) { try data.write(contentsOf: entry.data) }
    }

    func close() throws {
        try withFileErrors("finish the shard's data file", path: dataURL.path) { try data.close() }
        let head = try header.encoded()
        try withFileErrors("write the shard", path: fileURL.path) {
            guard FileManager.default.createFile(atPath: fileURL.path, contents: head) else {
                throw SlimError.io(path: fileURL.path, detail: "cannot create it")
            }
            let output = try FileHandle(forWritingTo: fileURL), input = try FileHandle(forReadingFrom: dataURL)
            defer { try? output.close(); try? input.close() }
            try output.seekToEnd()
            // Slices keep the memory of a shard of any size at one slice.
            while let slice = try input.read(upToCount: 8 << 20), !slice.isEmpty { try output.write(contentsOf: slice) }
        }
        try withFileErrors("remove the shard's data file", path: dataURL.path) { try FileManager.default.removeItem(at: dataURL) }
        let expected = head.count + header.dataBytes
        let written = (try? FileManager.default.attributesOfItem(atPath: fileURL.path)[.size] as? Int) ?? -1
        guard written == expected else {
            throw SlimError.io(path: fileURL.path, detail: "the shard has \(written) bytes after writing, not \(expected)")
        }
    }
}
