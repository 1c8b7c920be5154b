import Foundation
import Testing
import TestSupport

/// `--max-shard-size`: `slim compress`, `prune` and `lowrank` write shards and
/// an index past it, and every other command reads the folder as one model.
@Suite struct ShardedFolderCLITests {
    /// The tiny BERT compressed to int8 in one file and in shards of 8 kB:
    /// `slim inspect` lists the shards' tensors as one model, and `slim embed`
    /// prints the same vector from both.
    @Test(.seeded) func compressedInShardsInspectsAndEmbedsAsOneFile() throws {
        let base = try Temporary.folder("cli-sharded")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = base.appendingPathComponent("tiny")
        try StructuredPruneCLI.tinyBERT(at: model, seed: TestSeed.current)
        let single = base.appendingPathComponent("single").path, sharded = base.appendingPathComponent("sharded").path
        let a = try slim(["compress", model.path, "-o", single, "--quant", "int8", "--backend", "cpu"])
        let b = try slim(["compress", model.path, "-o", sharded, "--quant", "int8", "--max-shard-size", "8KB", "--backend", "cpu"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\n\(b.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: sharded)
        #expect(names.contains("model.safetensors.index.json") && !names.contains("model.safetensors"), "\(names.sorted())")

        let inspectSingle = try StructuredPruneCLI.json(try slim(["inspect", single, "--json"]).stdout)
        let r = try slim(["inspect", sharded, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let inspected = try StructuredPruneCLI.json(r.stdout)
        let files = inspected["weight_files"] as? [String] ?? []
        print("inspect: \(files.count) shards, format \(inspected["format"] ?? "?")")
        #expect(files.count > 2 && files.allSatisfy { $0.contains("/model-") } && inspected["format"] as? String == "safetensors")
        #expect(inspected["parameter_count"] as? Int == inspectSingle["parameter_count"] as? Int)
        let tensors = { (o: [String: Any]) in Set((o["tensors"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }) }
        #expect(tensors(inspected) == tensors(inspectSingle) && !tensors(inspected).isEmpty)
        let text = try #require(slim(["inspect", sharded]).stdout.split(separator: "\n").first)
        #expect(text.contains("in \(files.count) shards"), "\(text)")

        let e1 = try slim(["embed", single, "the cat sat on the mat", "--backend", "cpu", "--json"])
        let e2 = try slim(["embed", sharded, "the cat sat on the mat", "--backend", "cpu", "--json"])
        #expect(e1.status == 0 && e2.status == 0 && e1.stdout == e2.stdout, "\(e2.stderr)")
    }

    @Test func badShardSizesAreRefused() throws {
        for bad in ["1.5GB", "0", "lots"] {
            let r = try slim(["prune", "/nonexistent", "-o", "/nonexistent/out", "--max-shard-size", bad])
            #expect(r.status != 0 && r.stderr.contains("--max-shard-size \(bad)"), "\(r.stderr)")
        }
        let r = try slim(["lowrank", "/nonexistent", "-o", "/nonexistent/out", "--rank", "2", "--max-shard-size", "2XB"])
        #expect(r.status != 0 && r.stderr.contains("--max-shard-size 2XB"), "\(r.stderr)")
    }
}
