import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// Sharded Hugging Face checkpoints written by CheckpointWriter and read by
/// HuggingFaceCheckpoint.open, and every way an index and its shards can disagree.
@Suite struct ShardedCheckpointTests {
    static func bytes(_ name: String, _ count: Int) -> SafeTensorsWriter.Entry {
        .init(name: name, kind: .u8, shape: [count], data: Data(count: count))
    }

    /// The shards huggingface_hub's split_torch_state_dict_into_shards makes of
    /// tensors of 40, 50, 30, 150, 20 and 60 bytes with a 100-byte limit, worked
    /// out by hand from its loop: a tensor that would tip the shard over closes
    /// it; one over the limit is a shard of its own, numbered when it comes.
    @Test func shardsAsTransformersSplitsThem() throws {
        let folder = try Temporary.folder("shards")
        defer { try? FileManager.default.removeItem(at: folder) }
        let writer = try CheckpointWriter(folder: folder, maxShardBytes: 100)
        for (name, bytes) in [("a", 40), ("b", 50), ("c", 30), ("d", 150), ("e", 20), ("f", 60)] { try writer.append(Self.bytes(name, bytes)) }
        let written = try writer.finish()
        let shards = (1...4).map { HuggingFaceCheckpoint.shardFile($0, of: 4) }
        #expect(shards.first == "model-00001-of-00004.safetensors")
        #expect(written.files == shards + ["model.safetensors.index.json"])
        #expect(written.tensorBytes == 350)
        let index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("model.safetensors.index.json"))) as? [String: Any])
        #expect((index["metadata"] as? [String: Any])?["total_size"] as? Int == 350)
        #expect(index["weight_map"] as? [String: String] == ["a": shards[0], "b": shards[0], "d": shards[1], "c": shards[2], "e": shards[2], "f": shards[3]])
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == (shards + ["model.safetensors.index.json"]).sorted(), "no scratch file is left")
        let file = try HuggingFaceCheckpoint.open(folder: folder)
        #expect(file.tensors.map(\.name) == ["a", "b", "d", "c", "e", "f"] && file.path.hasSuffix("model.safetensors.index.json"))
        #expect(file.fileBytes == written.fileBytes && file.shards.count == 4)
    }

    /// One shard is a plain model.safetensors with no index, as save_pretrained writes it; so is an empty model.
    @Test func oneShardIsModelSafetensors() throws {
        for count in [0, 3] {
            let folder = try Temporary.folder("one-shard")
            defer { try? FileManager.default.removeItem(at: folder) }
            let writer = try CheckpointWriter(folder: folder, maxShardBytes: 1000)
            for i in 0..<count { try writer.append(Self.bytes("t\(i)", 16)) }
            #expect(try writer.finish().files == ["model.safetensors"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
            let file = try HuggingFaceCheckpoint.open(folder: folder)
            #expect(file is SafeTensorsFile && file.tensors.count == count)
            #expect((file as? SafeTensorsFile)?.metadata["format"] == "pt", "transformers expects format: pt")
        }
    }

    /// Random tensors of every float width and some integers, some larger than
    /// the shard limit, written in shards and read back: the same bytes and
    /// values, each tensor verified against its own shard's checksum.
    @Test(.seeded) func mixedKindsRoundTripThroughShards() throws {
        var rng = SplitMix64(seed: TestSeed.current)
        let folder = try Temporary.folder("roundtrip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let limit = 4096
        let writer = try CheckpointWriter(folder: folder, maxShardBytes: limit, metadata: ["note": "test"])
        var entries: [SafeTensorsWriter.Entry] = [], values: [String: [Float]] = [:]
        for i in 0..<40 {
            let shape = [Int.random(in: 1...12, using: &rng), Int.random(in: 1...(i % 9 == 0 ? 400 : 60), using: &rng)]
            let kind = [StoredKind.f32, .f16, .bf16, .i64, .u8][Int.random(in: 0..<5, using: &rng)]
            let name = "layers.\(i).\(kind.rawValue)"
            let entry: SafeTensorsWriter.Entry
            if kind.holdsFloats {
                let v = rng.matrix(shape[0] * shape[1]).map { $0 * 3 }
                values[name] = v
                entry = try .floats(name, v, shape: shape, as: kind)
            } else {
                let bytes = (0..<kind.byteCount(shape: shape)!).map { _ in UInt8.random(in: 0...255, using: &rng) }
                entry = .init(name: name, kind: kind, shape: shape, data: Data(bytes))
            }
            entries.append(entry)
            try writer.append(entry)
        }
        let written = try writer.finish()
        print("mixed round trip: \(written.files.count - 1) shards, \(written.tensorBytes) tensor bytes, limit \(limit)")
        #expect(written.files.count > 3, "several shards")
        let file = try HuggingFaceCheckpoint.open(folder: folder)
        // A tensor over the limit takes the next shard number while the open shard waits, so file order
        // is the order written but for those (shardsAsTransformersSplitsThem checks exact placement).
        #expect(file.tensors.count == entries.count && Set(file.tensors.map(\.name)) == Set(entries.map(\.name)))
        for e in entries {
            let t = try file.tensor(named: e.name)
            #expect(t.kind == e.kind && t.shape == e.shape)
            #expect(Data(try file.bytes(of: t)) == e.data, "\(e.name)")
            if let v = values[e.name] {
                let read = try file.floats(t)
                let expected: [Float] = switch e.kind {
                case .bf16: v.map { HalfFloats.float(bf16: HalfFloats.bf16($0)) }
                case .f16: v.map { HalfFloats.float(f16: HalfFloats.f16($0)) }
                default: v
                }
                #expect(read == expected, "\(e.name)")
            }
        }
        // Every shard is within the limit unless it holds a single larger tensor.
        let sharded = try #require(file as? ShardedSafeTensorsFile)
        for (i, part) in sharded.parts.enumerated() {
            let bytes = part.tensors.reduce(0) { $0 + $1.byteRange.count }
            #expect(bytes <= limit || part.tensors.count == 1, "shard \(i + 1): \(bytes) bytes in \(part.tensors.count) tensors")
            #expect(part.metadata == ["format": "pt", "note": "test"])
        }
        #expect(sharded.totalSize == written.tensorBytes)
    }

    /// The writer refuses what a safetensors file cannot hold, naming the tensor.
    @Test func writerRefusesBadTensors() throws {
        let folder = try Temporary.folder("writer-refusals")
        defer { try? FileManager.default.removeItem(at: folder) }
        let writer = try CheckpointWriter(folder: folder, maxShardBytes: 100)
        try writer.append(Self.bytes("w", 8))
        for (entry, words) in [(Self.bytes("w", 8), "'w' is used twice"),
                               (.init(name: "odd", kind: .f32, shape: [3], data: Data(count: 8)), "'odd'"),
                               (.init(name: "q", kind: .q8_0, shape: [32], data: Data(count: 34)), "'q'")] as [(SafeTensorsWriter.Entry, String)] {
            #expect { try writer.append(entry) } throws: { "\($0)".contains(words) }
        }
        #expect { try SafeTensorsWriter.Entry.floats("i", [1], shape: [1], as: .i32) } throws: { "\($0)".contains("'i'") }
        _ = try writer.finish()
        #expect(throws: SlimError.self) { try writer.append(Self.bytes("late", 4)) }
    }

    // MARK: - Refusals of a sharded checkpoint

    /// Two shards written as a Hugging Face folder would hold them, then `edit` changes the index or the files.
    static func refusal(_ edit: (URL, inout [String: Any]) throws -> Void) throws -> (folder: URL, error: String?) {
        let folder = try Temporary.folder("sharded-refusal")
        let first = HuggingFaceCheckpoint.shardFile(1, of: 2), second = HuggingFaceCheckpoint.shardFile(2, of: 2)
        try SafeTensorsWriter.write([bytes("a", 8), bytes("b", 8)], to: folder.appendingPathComponent(first))
        try SafeTensorsWriter.write([bytes("c", 8)], to: folder.appendingPathComponent(second))
        var index: [String: Any] = ["metadata": ["total_size": 24], "weight_map": ["a": first, "b": first, "c": second]]
        try edit(folder, &index)
        let url = folder.appendingPathComponent("model.safetensors.index.json")
        if !FileManager.default.fileExists(atPath: url.path) { try JSONSerialization.data(withJSONObject: index).write(to: url) }
        do {
            _ = try HuggingFaceCheckpoint.open(folder: folder)
            return (folder, nil)
        } catch {
            return (folder, "\(error)")
        }
    }

    static let first = HuggingFaceCheckpoint.shardFile(1, of: 2), second = HuggingFaceCheckpoint.shardFile(2, of: 2)

    /// Each disagreement is refused with a message naming the file and the tensor.
    @Test(arguments: [
        ("index not JSON", ["model.safetensors.index.json", "not a JSON object"]),
        ("no weight_map", ["model.safetensors.index.json", "'weight_map'"]),
        ("shard missing", [second, "'c'", "model.safetensors.index.json"]),
        ("tensor not in its shard", ["'z'", second, "does not hold it"]),
        ("tensor in two shards", ["'b'", first, second, "two shards"]),
        ("tensor the index does not list", ["'x'", second, "does not list"]),
        ("mapped to another shard", ["'b'", first, second]),
        ("shard outside the folder", ["'a'", "../x.safetensors"]),
    ])
    func disagreementsAreRefusedByName(_ what: String, _ words: [String]) throws {
        let (folder, error) = try Self.refusal { folder, index in
            var map = index["weight_map"] as! [String: String]
            switch what {
            case "index not JSON": try Data("{\"weight_map\": ".utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
            case "no weight_map": index["weight_map"] = nil
            case "shard missing": try FileManager.default.removeItem(at: folder.appendingPathComponent(Self.second))
            case "tensor not in its shard": map["z"] = Self.second
            case "tensor in two shards":
                try SafeTensorsWriter.write([Self.bytes("c", 8), Self.bytes("b", 4)], to: folder.appendingPathComponent(Self.second))
            case "tensor the index does not list":
                try SafeTensorsWriter.write([Self.bytes("c", 8), Self.bytes("x", 4)], to: folder.appendingPathComponent(Self.second))
            case "mapped to another shard": map["b"] = Self.second
            case "shard outside the folder": map["a"] = "../x.safetensors"
            default: Issue.record("unknown case \(what)")
            }
            if index["weight_map"] != nil { index["weight_map"] = map }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let message = try #require(error, "\(what) was accepted")
        for word in words { #expect(message.contains(word), "\(what): \(message)") }
    }

    /// What is accepted on purpose: a total_size that disagrees (transformers
    /// never reads it), and model.safetensors beside an index (read first, as transformers does).
    @Test func acceptedDisagreements() throws {
        let (folder, error) = try Self.refusal { _, index in index["metadata"] = ["total_size": 1] }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(error == nil)
        #expect(try HuggingFaceCheckpoint.open(folder: folder).tensors.map(\.name) == ["a", "b", "c"])
        try SafeTensorsWriter.write([Self.bytes("single", 4)], to: folder.appendingPathComponent("model.safetensors"))
        #expect(try HuggingFaceCheckpoint.open(folder: folder).tensors.map(\.name) == ["single"])
        let empty = try Temporary.folder("no-weights")
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect { try HuggingFaceCheckpoint.open(folder: empty) } throws: { "\($0)".contains("model.safetensors.index.json") }
    }

    /// A flipped byte in a shard is caught by that shard's checksum, named by tensor and shard.
    @Test func corruptShardIsRefusedByItsChecksum() throws {
        let (folder, error) = try Self.refusal { _, _ in }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(error == nil)
        let url = folder.appendingPathComponent(Self.second)
        var data = try Data(contentsOf: url)
        data[data.count - 1] ^= 1
        try data.write(to: url)
        let file = try HuggingFaceCheckpoint.open(folder: folder)
        #expect { try file.bytes(of: try file.tensor(named: "c")) } throws: { "\($0)".contains("'c'") && "\($0)".contains(Self.second) }
        #expect(try file.int64s(try file.tensor(named: "a")) == Array(repeating: 0, count: 8))
    }

    /// `--max-shard-size` reads sizes as transformers' convert_file_size_to_int does.
    @Test func shardSizesParseAsTransformersReadsThem() throws {
        for (text, bytes) in [("2GB", 2_000_000_000), ("500MB", 500_000_000), ("10KB", 10_000), ("4GiB", 4 << 30),
                              ("1mib", 1 << 20), ("5Gb", 625_000_000), ("1234", 1234)] {
            #expect(try CheckpointWriter.parseShardSize(text) == bytes, "\(text)")
        }
        for bad in ["", "GB", "1.5GB", "-1GB", "0", "2TB", "lots"] {
            #expect(throws: SlimError.self, "\(bad)") { try CheckpointWriter.parseShardSize(bad) }
        }
    }
}
