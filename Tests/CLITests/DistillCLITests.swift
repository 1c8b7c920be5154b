import Foundation
import Testing
import TestSupport

/// `slim distill` end to end on the tiny random BERT of the pruning tests
/// (2 blocks, hidden 32): a 1-layer student folder that `slim embed`, `slim
/// eval` and `slim compress` take; resume equals an uninterrupted run; bad input.
@Suite(.serialized) struct DistillCLI {
    /// A fresh folder (the caller removes it) with the tiny teacher and texts drawn from the test's seed (`@Test(.seeded)`).
    static func workspace(_ name: String) throws -> (base: URL, teacher: URL, data: URL) {
        let base = try Temporary.folder("cli-distill-\(name)")
        let teacher = base.appendingPathComponent("teacher"), data = base.appendingPathComponent("texts.txt")
        try StructuredPruneCLI.tinyBERT(at: teacher, seed: TestSeed.current)
        let words = StructuredPruneCLI.words.dropFirst(5)
        // Twelve random "sentences" of 3 to 14 known words, one per line.
        var rng = SplitMix64(seed: TestSeed.current &+ 1)
        let lines = (0..<12).map { i in (0..<(3 + i)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ") }
        try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        return (base, teacher, data)
    }

    static func arguments(_ w: (base: URL, teacher: URL, data: URL), output: String, steps: Int = 8) -> [String] {
        ["distill", "--teacher", w.teacher.path, "--student-layers", "1", "--data", w.data.path, "--steps", "\(steps)",
         "--batch", "4", "--seq", "12", "--lr", "1e-3", "--warmup", "2", "-o", w.base.appendingPathComponent(output).path,
         "--backend", "cpu"]
    }

    static func losses(_ folder: URL) throws -> [Double] {
        try String(contentsOf: folder.appendingPathComponent("loss.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { Double($0.split(separator: ",")[1])! }
    }

    @Test(.seeded) func studentFolderEmbedsEvalsAndCompresses() throws {
        let w = try Self.workspace("folder")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let out = w.base.appendingPathComponent("student")
        let r = try slim(Self.arguments(w, output: "student") + ["--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try StructuredPruneCLI.json(r.stdout)
        #expect(summary["steps"] as? Int == 8)
        let config = try StructuredPruneCLI.json(try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8))
        #expect(config["num_hidden_layers"] as? Int == 1)
        #expect(try Self.losses(out).count == 8)
        let svg = try String(contentsOf: out.appendingPathComponent("loss.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("vocab.txt").path), "tokenizer files copied")
        let e = try slim(["eval", w.teacher.path, out.path, "--data", w.data.path, "--backend", "cpu", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let embed = try slim(["embed", out.path, "the dog runs in the park.", "--backend", "cpu"])
        #expect(embed.status == 0, "\(embed.stderr)")
        let q = try slim(["compress", out.path, "-o", w.base.appendingPathComponent("int8").path, "--quant", "int8"])
        #expect(q.status == 0, "distil, then quantize: \(q.stderr)")
    }

    /// `--steps 0` writes the starting model and says so, with no loss to print (it printed "loss nan → nan").
    @Test(.seeded) func zeroStepsWritesTheStartingModelWithoutANaNLoss() throws {
        let w = try Self.workspace("zero")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let r = try slim(Self.arguments(w, output: "student", steps: 0))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("0 steps") && r.stdout.contains("the starting model"), "\(r.stdout)")
        #expect(!r.stdout.lowercased().contains("nan"), "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: w.base.appendingPathComponent("student/config.json").path))
    }

    /// 8 steps straight against 4 steps, a checkpoint, and 4 more after --resume: the same loss curve.
    @Test(.seeded) func resumeContinuesTheSameLossCurve() throws {
        let w = try Self.workspace("resume")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let straight = try slim(Self.arguments(w, output: "straight"))
        #expect(straight.status == 0, "\(straight.stderr)")
        let half = try slim(Self.arguments(w, output: "resumed") + ["--checkpoint-every", "4", "--stop-after", "4"])
        #expect(half.status == 0, "\(half.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.base.appendingPathComponent("resumed").path), "no model before the last step")
        let rest = try slim(Self.arguments(w, output: "resumed") + ["--checkpoint-every", "4", "--resume"])
        #expect(rest.status == 0, "\(rest.stderr)")
        let a = try Self.losses(w.base.appendingPathComponent("straight")), b = try Self.losses(w.base.appendingPathComponent("resumed"))
        #expect(a.count == 8 && b.count == 8)
        // The same ops on the same values in the same order: bit-identical on the CPU backend.
        #expect(a == b, "straight \(a) vs resumed \(b)")
        #expect(a.last! < a.first!, "the loss falls: \(a)")
        // A checkpoint of another configuration is refused, naming what differs.
        let other = try slim(Self.arguments(w, output: "resumed") + ["--checkpoint-every", "4", "--resume", "--overwrite", "--seq", "10"])
        #expect(other.status != 0 && other.stderr.contains("another configuration") && other.stderr.contains("seq"), "\(other.stderr)")
    }

    /// A checkpoint with one bit flipped mid-file: `--resume` stops with a non-zero exit naming
    /// the tensor whose bytes changed, instead of training on (and writing) garbage.
    @Test func resumeFromACorruptCheckpointFailsNamingTheTensor() throws {
        let w = try Self.workspace("corrupt")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let half = try slim(Self.arguments(w, output: "s") + ["--checkpoint-every", "4", "--stop-after", "4"])
        #expect(half.status == 0, "\(half.stderr)")
        let checkpoint = w.base.appendingPathComponent("s.checkpoint.safetensors")
        var data = try Data(contentsOf: checkpoint)
        let middle = data.count / 2
        data[middle] ^= 0x40
        try data.write(to: checkpoint)
        // The tensor holding that byte, from the header (8-byte length, JSON, then the data).
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data[8..<8 + length]) as? [String: Any])
        let tensor = try #require(header.first { _, entry in
            guard let offsets = (entry as? [String: Any])?["data_offsets"] as? [Int] else { return false }
            return (offsets[0]..<offsets[1]).contains(middle - 8 - length)
        }?.key)
        let rest = try slim(Self.arguments(w, output: "s") + ["--checkpoint-every", "4", "--resume"])
        #expect(rest.status != 0, "resumed from a corrupt checkpoint: \(rest.stdout)")
        #expect(rest.stderr.contains("tensor '\(tensor)'") && rest.stderr.contains("checksum"), "\(rest.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.base.appendingPathComponent("s").path), "no model written")
    }

    /// Hidden-state MSE on top of the embedding losses: the 1-layer student's output learns teacher layer 0's (captured as layer 1's query input).
    @Test(.seeded) func hiddenStateLossTrainsAndABadLayerMapIsRefused() throws {
        let w = try Self.workspace("hidden")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let r = try slim(Self.arguments(w, output: "h", steps: 12) + ["--loss", "cosine,hidden-mse", "--layer-map", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let losses = try Self.losses(w.base.appendingPathComponent("h"))
        #expect(losses.count == 12 && losses.last! < losses.first!, "\(losses)")
        // The teacher may run quantized (int8 weights): the same student, a slightly different curve.
        let q = try slim(Self.arguments(w, output: "q", steps: 12) + ["--loss", "cosine,hidden-mse", "--layer-map", "0", "--teacher-quantize", "int8"])
        #expect(q.status == 0, "\(q.stderr)")
        let quantized = try Self.losses(w.base.appendingPathComponent("q"))
        #expect(quantized.count == 12 && quantized != losses && abs(quantized[0] - losses[0]) < 0.1 * losses[0], "\(quantized) vs \(losses)")
        let bad = try slim(Self.arguments(w, output: "bad") + ["--loss", "hidden-mse", "--layer-map", "2"])
        #expect(bad.status != 0 && bad.stderr.contains("--layer-map"), "\(bad.stderr)")
        // Through a learned projection (identity at the start: the same first loss); the
        // projection trains with the student but is not a model tensor.
        let p = try slim(Self.arguments(w, output: "p", steps: 12) + ["--loss", "cosine,hidden-mse", "--layer-map", "0", "--hidden-projection"])
        #expect(p.status == 0, "\(p.stderr)")
        let projected = try Self.losses(w.base.appendingPathComponent("p"))
        #expect(abs(projected[0] - losses[0]) <= 1e-6 * losses[0] && projected.last! < projected.first!, "\(projected) vs \(losses)")
        let weights = try Data(contentsOf: w.base.appendingPathComponent("p/model.safetensors"))
        #expect(weights.range(of: Data("hidden_projection".utf8)) == nil, "the projection is training-only")
        let noHidden = try slim(Self.arguments(w, output: "np") + ["--hidden-projection"])
        #expect(noHidden.status != 0 && noHidden.stderr.contains("hidden-mse"), "\(noHidden.stderr)")
    }

    /// The attention KL alone with the cosine: the 1-layer student (teacher layer 0's weights) learns
    /// teacher layer 1's attention; the term is reported, finite and falls; a checkpoint of another
    /// --attn-weight is refused; a student layer the student lacks is a clear error.
    @Test(.seeded) func attentionKLTrainsAndIsReported() throws {
        let w = try Self.workspace("attn")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let attn = ["--loss", "cosine,attn-kl", "--attn-layers", "0"]
        let r = try slim(Self.arguments(w, output: "a", steps: 12) + attn + ["--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try StructuredPruneCLI.json(r.stdout)
        let first = summary["first_attention_kl"] as? Double ?? .nan, final = summary["final_attention_kl"] as? Double ?? .nan
        #expect(first.isFinite && final.isFinite && first > 0 && final < first, "attention KL \(first) → \(final)")
        let losses = try Self.losses(w.base.appendingPathComponent("a"))
        #expect(losses.count == 12 && losses.allSatisfy { $0.isFinite } && losses.last! < losses.first!, "\(losses)")
        let text = try slim(Self.arguments(w, output: "t", steps: 3) + ["--loss", "embed-mse,cosine,attn-kl", "--attn-weight", "2"])
        #expect(text.status == 0 && text.stdout.contains("attention KL"), "\(text.stdout) \(text.stderr)")

        let half = try slim(Self.arguments(w, output: "c") + attn + ["--checkpoint-every", "4", "--stop-after", "4"])
        #expect(half.status == 0, "\(half.stderr)")
        let other = try slim(Self.arguments(w, output: "c") + attn + ["--attn-weight", "3", "--checkpoint-every", "4", "--resume"])
        #expect(other.status != 0 && other.stderr.contains("another configuration") && other.stderr.contains("attn-kl"), "\(other.stderr)")

        let outside = try slim(Self.arguments(w, output: "bad") + ["--loss", "attn-kl", "--attn-layers", "1"])
        #expect(outside.status != 0 && outside.stderr.contains("--attn-layers 1") && outside.stderr.contains("0..<1"), "\(outside.stderr)")
        let unused = try slim(Self.arguments(w, output: "bad") + ["--attn-layers", "0"])
        #expect(unused.status != 0 && unused.stderr.contains("attn-kl"), "\(unused.stderr)")
    }

    @Test(.seeded) func badInputIsAClearError() throws {
        let w = try Self.workspace("bad")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let tooMany = try slim(Self.arguments(w, output: "s").map { $0 == "1" ? "3" : $0 })
        #expect(tooMany.status != 0 && tooMany.stderr.contains("the teacher has 2 layers"), "\(tooMany.stderr)")
        let empty = w.base.appendingPathComponent("empty.txt")
        try "\n\n".write(to: empty, atomically: true, encoding: .utf8)
        let noData = try slim(Self.arguments(w, output: "s").map { $0 == w.data.path ? empty.path : $0 })
        #expect(noData.status != 0 && noData.stderr.contains("no calibration text"), "\(noData.stderr)")
        let noCheckpoint = try slim(Self.arguments(w, output: "s") + ["--resume"])
        #expect(noCheckpoint.status != 0 && noCheckpoint.stderr.contains("no checkpoint"), "\(noCheckpoint.stderr)")
    }
}
