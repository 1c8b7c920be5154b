import Foundation
import Testing

/// Errors a user can act on: the path, what was being done and why in
/// words, never a Foundation `Error Domain=NSCocoaErrorDomain …` dump; and
/// the option or variable that is actually wrong.
@Suite(.serialized) struct ErrorMessagesCLI {
    static func expectReadable(_ r: (status: Int32, stdout: String, stderr: String), mentions: [String],
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status != 0, "succeeded: \(r.stdout)", sourceLocation: sourceLocation)
        for dump in ["Error Domain", "NSCocoaErrorDomain", "UserInfo", "The operation could not be completed"] {
            #expect(!r.stderr.contains(dump), "a raw Foundation error: \(r.stderr)", sourceLocation: sourceLocation)
        }
        for m in mentions { #expect(r.stderr.contains(m), "'\(m)' not in \(r.stderr)", sourceLocation: sourceLocation) }
    }

    @Test func fileFailuresNameThePathTheOperationAndTheReason() throws {
        let w = try DistillCLI.workspace("file-errors")
        defer { try? FileManager.default.removeItem(at: w.base) }
        // The output's staging folder cannot be created beside it.
        Self.expectReadable(try slim(["compress", w.teacher.path, "-o", "/proc/slim-out", "--quant", "int8"]),
                            mentions: ["/proc/", "no such file or directory"])
        Self.expectReadable(try slim(["embed", w.teacher.path, "--file", w.base.path, "--backend", "cpu"]),
                            mentions: [w.base.path, "cannot read", "is a directory"])
        let empty = w.base.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        Self.expectReadable(try slim(["inspect", empty.path]),
                            mentions: [empty.appendingPathComponent("config.json").path, "cannot read", "no such file or directory"])
        let broken = w.base.appendingPathComponent("broken")
        try FileManager.default.copyItem(at: w.teacher, to: broken)
        try "{\"model_type\": \"bert\",".write(to: broken.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        Self.expectReadable(try slim(["embed", broken.path, "hello", "--backend", "cpu"]),
                            mentions: [broken.appendingPathComponent("config.json").path, "not valid JSON"])
        Self.expectReadable(try slim(DistillCLI.arguments(w, output: "s", steps: 1) + ["--checkpoint", "/nonexistent/dir/s.ckpt", "--checkpoint-every", "1"]),
                            mentions: ["/nonexistent/dir/s.ckpt", "cannot write", "no such file or directory"])
    }

    /// A fine-tuning whose teacher has fewer layers than the model: the default layer map
    /// fails, and the error says so instead of blaming a --layer-map nobody gave.
    @Test func layerMapErrorsNameWhatIsWrong() throws {
        let w = try DistillCLI.workspace("layer-map")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let shallow = w.base.appendingPathComponent("shallow")
        let s = try slim(DistillCLI.arguments(w, output: "shallow", steps: 0))
        #expect(s.status == 0, "\(s.stderr)")
        let finetune = ["finetune", w.teacher.path, "--teacher", shallow.path, "--data", w.data.path, "--steps", "1", "--batch", "2",
                        "--seq", "8", "--quant", "int8", "--backend", "cpu", "-o"]
        let deeper = try slim(finetune + [w.base.appendingPathComponent("a").path])
        Self.expectReadable(deeper, mentions: ["default layer map", "the student has 2 layers but the teacher only 1", "give --layer-map"])
        #expect(!deeper.stderr.contains("--layer-map -1"), "\(deeper.stderr)")
        // Without a hidden-state loss no map is needed, and none is checked.
        let plain = try slim(finetune + [w.base.appendingPathComponent("b").path, "--loss", "embed-mse,cosine"])
        #expect(plain.status == 0, "\(plain.stderr)")
        Self.expectReadable(try slim(DistillCLI.arguments(w, output: "c") + ["--loss", "hidden-mse", "--layer-map", "0,,1"]),
                            mentions: ["--layer-map 0,,1"])
        Self.expectReadable(try slim(DistillCLI.arguments(w, output: "d") + ["--layer-map", "0"]),
                            mentions: ["--layer-map", "hidden-mse or attn-kl"])
    }

    @Test func aBadBackendVariableIsNamed() throws {
        Self.expectReadable(try slim(["bench", "gemm", "--shape", "8x8x8"], environment: ["SLIM_BACKEND": "tpu"]),
                            mentions: ["SLIM_BACKEND=tpu", "unknown backend 'tpu'"])
    }
}
