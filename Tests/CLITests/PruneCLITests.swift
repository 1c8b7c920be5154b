import Foundation
import Testing
import TestSupport

/// `slim prune --pattern heads:F|neurons:F` end to end: a smaller folder that
/// `slim eval`, `slim embed` and `slim compress` take. The model is a tiny
/// random BERT (TestSupport's TinyBERT; MiniLM would spend most of a debug run hashing
/// its 90 MB for the model card); the MiniLM figures are in the model tests.
@Suite(.serialized) struct StructuredPruneCLI {
    static let words = TinyBERT.words

    /// The 2-block random BERT of ``TinyBERT``, drawn from `seed`.
    static func tinyBERT(at folder: URL, seed: UInt64) throws {
        try TinyBERT.write(at: folder, seed: seed)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Per block: heads:0.25 removes 1 head of 8 dims (8 rows of Q, K, V with their biases, 8 columns of O);
    /// neurons:0.5 removes 32 of 64 neurons (32 rows of the up projection with their biases, 32 columns of the down one).
    @Test(.seeded, arguments: [("heads:0.25", 2 * (4 * 8 * 32 + 3 * 8)), ("neurons:0.5", 2 * (2 * 32 * 32 + 32))])
    func prunedFolderIsSmallerAndEvalsEmbedsAndQuantizes(_ pattern: String, removedParameters: Int) throws {
        let base = try Temporary.folder("cli-structured")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = base.appendingPathComponent("tiny"), out = base.appendingPathComponent("pruned").path
        let int8 = base.appendingPathComponent("int8").path, texts = base.appendingPathComponent("texts.txt")
        try Self.tinyBERT(at: model, seed: TestSeed.current)
        let p = try slim(["prune", model.path, "-o", out, "--pattern", pattern, "--method", "wanda", "--samples", "4",
                          "--backend", "cpu", "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        let card = try Self.json(p.stdout)
        // fp32 values leave the file; its JSON header changes by a few bytes and gains
        // Slim's checksums (a key and 16 hex digits per tensor, and one for the header).
        let removedBytes = (card["bytes_before"] as? Int ?? 0) - (card["bytes_after"] as? Int ?? 0)
        let written = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        let headerLength = written.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: written[8..<8 + headerLength]) as? [String: Any])
        let checksums = ((header["__metadata__"] as? [String: String]) ?? [:]).filter { $0.key.hasPrefix("slim.xxh64") }
        let checksumBytes = checksums.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 }
        #expect(checksums.count == header.count, "one per tensor and one for the header")
        #expect(abs(removedBytes + checksumBytes - 4 * removedParameters) < 256, "\(pattern): \(removedBytes) bytes removed")
        let config = try Self.json(try String(contentsOfFile: out + "/config.json", encoding: .utf8))
        let sparsity = config["sparsity_config"] as? [String: Any]
        #expect(sparsity?["parameters_after"] as? Int ?? .max < sparsity?["parameters_before"] as? Int ?? 0)
        if pattern.hasPrefix("heads") {
            #expect((config["pruned_heads"] as? [String: [Int]])?.values.map(\.count) == [1, 1], "one of 4 heads per block")
        } else {
            #expect(config["slim_intermediate_sizes"] as? [Int] == [32, 32], "half of 64 neurons per block")
        }

        try "the cat sat on the mat.\na man is playing a guitar.\nstocks fell sharply on monday.\n"
            .write(to: texts, atomically: true, encoding: .utf8)
        let e = try slim(["eval", model.path, out, "--data", texts.path, "--backend", "cpu", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let r = try Self.json(e.stdout)
        #expect((r["mean_cosine"] as? Double ?? 0) > 0 && (r["size_ratio"] as? Double ?? 1) < 1, "\(r)")
        func embeds(on backend: String) throws {
            let embed = try slim(["embed", out, "the dog runs in the park.", "--backend", backend, "--json"])
            #expect(embed.status == 0, "the pruned folder embeds on \(backend): \(embed.stderr)")
        }
        try embeds(on: "cpu")
        let q = try slim(["compress", out, "-o", int8, "--quant", "int8"])
        #expect(q.status == 0, "prune, then quantize: \(q.stderr)")
        let qe = try slim(["embed", int8, "the cat sat on the mat.", "--backend", "cpu"])
        #expect(qe.status == 0, "\(qe.stderr)")
        try OpenCLHalf.require()
        try embeds(on: "opencl")
    }

    @Test func patternsThatRemoveEverythingOrDoNotParseAreRefused() throws {
        let model = Temporary.url("no-such-model"), out = Temporary.url("never-written")
        defer { try? FileManager.default.removeItem(at: out) }
        for bad in ["neurons:1.0", "heads:1", "heads:", "columns:0.5"] {
            let r = try slim(["prune", model.path, "-o", out.path, "--pattern", bad])
            #expect(r.status != 0 && r.stderr.contains(bad), "\(bad): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
