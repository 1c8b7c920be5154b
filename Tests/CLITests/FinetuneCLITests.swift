import Foundation
import Testing
import TestSupport

/// `slim finetune` end to end on the tiny random BERT of the pruning tests
/// (hidden 32, MLP 64): sparse fine-tuning of a 2:4 model and QAT from an RTN
/// folder write folders that `slim eval` loads; bad input is a clear error.
@Suite(.serialized) struct FinetuneCLI {
    static func arguments(_ w: (base: URL, teacher: URL, data: URL), model: URL, output: String) -> [String] {
        ["finetune", model.path, "--teacher", w.teacher.path, "--data", w.data.path, "--steps", "4", "--batch", "4", "--seq", "12",
         "--lr", "1e-3", "-o", w.base.appendingPathComponent(output).path, "--backend", "cpu", "--json"]
    }

    @Test(.seeded) func sparseAndQuantizationAwareFineTuning() throws {
        let w = try DistillCLI.workspace("finetune")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let pruned = w.base.appendingPathComponent("pruned"), rtn = w.base.appendingPathComponent("rtn")
        #expect(try slim(["prune", w.teacher.path, "-o", pruned.path, "--pattern", "2:4"]).status == 0)
        #expect(try slim(["compress", w.teacher.path, "-o", rtn.path, "--quant", "int4-g32"]).status == 0)

        let sparse = try slim(Self.arguments(w, model: pruned, output: "sparse") + ["--keep-mask"])
        #expect(sparse.status == 0, "\(sparse.stderr)")
        let s = try StructuredPruneCLI.json(sparse.stdout)
        #expect(s["method"] as? String == "finetune-sparse" && s["steps"] as? Int == 4)
        let config = try StructuredPruneCLI.json(try String(contentsOf: w.base.appendingPathComponent("sparse/config.json"), encoding: .utf8))
        #expect(config["sparsity_config"] != nil, "the pattern is still recorded")

        let qat = try slim(Self.arguments(w, model: rtn, output: "qat") + ["--quant", "int4-g32", "--learn-scales"])
        #expect(qat.status == 0, "\(qat.stderr)")
        let q = try StructuredPruneCLI.json(qat.stdout)
        #expect(q["method"] as? String == "finetune-qat" && q["format"] as? String == "int4-g32")
        let qatConfig = try StructuredPruneCLI.json(try String(contentsOf: w.base.appendingPathComponent("qat/config.json"), encoding: .utf8))
        #expect((qatConfig["quantization_config"] as? [String: Any])?["method"] as? String == "qat")
        #expect(FileManager.default.fileExists(atPath: w.base.appendingPathComponent("qat/MODEL_CARD.md").path))
        for folder in ["sparse", "qat"] {
            let e = try slim(["eval", w.teacher.path, w.base.appendingPathComponent(folder).path, "--data", w.data.path,
                              "--backend", "cpu", "--json"])
            #expect(e.status == 0, "\(folder): \(e.stderr)")
        }
    }

    /// QAT with learned scales on a 2:4 mask, stopped after 2 steps and resumed: the
    /// same loss curve and the same weights file as 4 steps straight.
    @Test(.seeded) func resumedFineTuningEqualsAnUninterruptedOne() throws {
        let w = try DistillCLI.workspace("finetune-resume")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let pruned = w.base.appendingPathComponent("pruned")
        #expect(try slim(["prune", w.teacher.path, "-o", pruned.path, "--pattern", "2:4"]).status == 0)
        let args = Self.arguments(w, model: pruned, output: "straight") + ["--keep-mask", "--quant", "int4-g32", "--learn-scales"]
        #expect(try slim(args).status == 0)
        let resumed = args.map { $0.hasSuffix("/straight") ? w.base.appendingPathComponent("resumed").path : $0 }
        let half = try slim(resumed + ["--checkpoint-every", "2", "--stop-after", "2"])
        #expect(half.status == 0, "\(half.stderr)")
        let rest = try slim(resumed + ["--checkpoint-every", "2", "--resume"])
        #expect(rest.status == 0, "\(rest.stderr)")
        let a = try DistillCLI.losses(w.base.appendingPathComponent("straight")), b = try DistillCLI.losses(w.base.appendingPathComponent("resumed"))
        #expect(a.count == 4 && a == b, "straight \(a) vs resumed \(b)")
        let weights = { (name: String) in try Data(contentsOf: w.base.appendingPathComponent("\(name)/model.safetensors")) }
        #expect(try weights("straight") == weights("resumed"), "the same packed weights")
    }

    /// A quantized student: fewer layers, trained through fake quantization, written packed.
    @Test(.seeded) func distillTrainsAQuantizedStudent() throws {
        let w = try DistillCLI.workspace("quantized-student")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let r = try slim(DistillCLI.arguments(w, output: "student", steps: 4) + ["--student-quant", "int8", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = w.base.appendingPathComponent("student")
        let config = try StructuredPruneCLI.json(try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8))
        #expect(config["num_hidden_layers"] as? Int == 1)
        #expect((config["quantization_config"] as? [String: Any])?["format"] as? String == "int8")
        let e = try slim(["eval", w.teacher.path, out.path, "--data", w.data.path, "--backend", "cpu", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let ratio = try StructuredPruneCLI.json(e.stdout)["size_ratio"] as? Double ?? 1
        #expect(ratio < 0.4, "a 1-of-2-layer int8 student is \(ratio) of the teacher")
    }

    @Test(.seeded) func badInputIsAClearError() throws {
        let w = try DistillCLI.workspace("finetune-bad")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let cases: [([String], String)] = [
            (Self.arguments(w, model: w.teacher, output: "a"), "--quant FORMAT"),
            (Self.arguments(w, model: w.teacher, output: "b") + ["--keep-mask"], "no zero weights"),
            (Self.arguments(w, model: w.teacher, output: "c") + ["--quant", "q4_0"], "q4_0"),
            (Self.arguments(w, model: w.teacher, output: "d") + ["--quant", "int4-g32", "--student-layers", "1"], "--student-layers"),
            (["finetune", w.teacher.path, "--quant", "int8", "-o", w.base.appendingPathComponent("e").path], "--teacher"),
        ]
        for (arguments, message) in cases {
            let r = try slim(arguments)
            #expect(r.status != 0, "\(arguments) succeeded")
            #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
    }
}
