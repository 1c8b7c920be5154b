import Foundation
import Testing
import TestSupport

/// Options that would change nothing are named errors, not silently ignored:
/// the user meant something the command would not have done.
@Suite(.serialized) struct IgnoredOptionsCLI {
    static func expectRefused(_ arguments: [String], environment: [String: String] = [:], mentions: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try slim(arguments, environment: environment)
        #expect(r.status != 0, "\(arguments) succeeded: \(r.stdout)", sourceLocation: sourceLocation)
        for m in mentions { #expect(r.stderr.contains(m), "\(arguments): '\(m)' not in \(r.stderr)", sourceLocation: sourceLocation) }
    }

    @Test func zeroCalibrationSamples() throws {
        let w = try DistillCLI.workspace("samples")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let out = w.base.appendingPathComponent("out").path
        try Self.expectRefused(["compress", w.teacher.path, "-o", out, "--method", "gptq", "--samples", "0"], mentions: ["--samples 0"])
        try Self.expectRefused(["prune", w.teacher.path, "-o", out, "--method", "wanda", "--samples", "0"], mentions: ["--samples 0"])
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func activationsWithoutQuantize() throws {
        try Self.expectRefused(["embed", EmbedCLI.miniLM, "hello", "--activations", "int8", "--backend", "cpu"],
                               mentions: ["--activations", "--quantize"])
        try Self.expectRefused(["bench", "embed", EmbedCLI.miniLM, "--activations", "int8", "--backend", "cpu"],
                               mentions: ["--activations", "--quantize"])
    }

    @Test func quantizeOnACompressedModel() throws {
        let w = try DistillCLI.workspace("requantize")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let int8 = w.base.appendingPathComponent("int8")
        #expect(try slim(["compress", w.teacher.path, "-o", int8.path, "--quant", "int8"]).status == 0)
        try Self.expectRefused(["embed", int8.path, "the dog", "--quantize", "int4-g32", "--backend", "cpu"],
                               mentions: [int8.path, "already compressed", "int8"])
        try Self.expectRefused(["bench", "embed", int8.path, "--quantize", "q8_0", "--backend", "cpu"], mentions: ["already compressed"])
    }

    @Test func kernelsFolderThatIsMissingOrIncomplete() throws {
        let partial = Temporary.url("kernels")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: partial) }
        // The one source `bench gemm` needs, as shipped: the others would come from the binary, unseen.
        let kernels = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Kernels")
        try FileManager.default.copyItem(at: kernels.appendingPathComponent("gemm.cl"), to: partial.appendingPathComponent("gemm.cl"))
        let run = ["bench", "gemm", "--shape", "8x8x8", "--backend", "opencl", "--runs", "5", "--warmup", "1"]
        let probe = try slim(run)
        if probe.stderr.contains("no OpenCL") && ProcessInfo.processInfo.environment["SLIM_REQUIRE_OPENCL"] != "1" {
            print("no OpenCL device: the SLIM_KERNELS_DIR checks are skipped (\(probe.stderr))")
            return
        }
        #expect(probe.status == 0, "\(probe.stderr)")
        try Self.expectRefused(run, environment: ["SLIM_KERNELS_DIR": "/nonexistent/kernels"],
                               mentions: ["SLIM_KERNELS_DIR", "/nonexistent/kernels"])
        try Self.expectRefused(run, environment: ["SLIM_KERNELS_DIR": partial.path],
                               mentions: ["SLIM_KERNELS_DIR", partial.path, "qgemm.cl"])
    }

    @Test func keepMaskOnAQuantizedModelThatWasNotPruned() throws {
        let w = try DistillCLI.workspace("keep-mask-int8")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let int8 = w.base.appendingPathComponent("int8")
        #expect(try slim(["compress", w.teacher.path, "-o", int8.path, "--quant", "int8"]).status == 0)
        try Self.expectRefused(FinetuneCLI.arguments(w, model: int8, output: "ft") + ["--keep-mask"],
                               mentions: ["--keep-mask", int8.path, "not pruned"])
    }
}
