import Foundation
import Testing

/// Issue 21, non-finite weights: a model holding NaN or ±∞ is refused at load
/// (naming the tensor and the file) unless `--allow-nonfinite`; with it, every
/// quantizing path fails with an error naming the tensor instead of trapping
/// ("Float value cannot be converted to Int", exit 132).
@Suite(.serialized) struct NonFiniteCLI {
    static let poisoned = "encoder.layer.1.output.dense.weight"

    static func nanBERT(_ name: String) throws -> (base: URL, model: URL) {
        let base = try ModelFixtures.workspace(name)
        let model = try ModelFixtures.tinyBERT(base, "nan")
        try ModelFixtures.poisonSafeTensors(model.appendingPathComponent("model.safetensors"), tensor: poisoned, element: 5, with: .nan)
        return (base, model)
    }

    static func expectRefusal(_ r: (status: Int32, stdout: String, stderr: String), _ mentions: [String], _ what: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 1, "\(what): exit \(r.status)\n\(r.stderr)", sourceLocation: sourceLocation)
        for text in mentions { #expect(r.stderr.contains(text), "\(what): no '\(text)' in \(r.stderr)", sourceLocation: sourceLocation) }
    }

    @Test func loadingRefusesANaNWeightByTensorAndFileUnlessAllowed() throws {
        let (base, model) = try Self.nanBERT("load")
        defer { try? FileManager.default.removeItem(at: base) }
        let refused = try slim(["embed", model.path, "a cat", "--backend", "cpu"])
        Self.expectRefusal(refused, [Self.poisoned, model.appendingPathComponent("model.safetensors").path, "NaN", "--allow-nonfinite"], "embed")
        let allowed = try slim(["embed", model.path, "a cat", "--backend", "cpu", "--allow-nonfinite"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let compress = try slim(["compress", model.path, "-o", base.appendingPathComponent("out").path, "--backend", "cpu"])
        Self.expectRefusal(compress, [Self.poisoned, "model.safetensors"], "compress")
    }

    @Test(arguments: ["rtn", "gptq", "awq", "auto"])
    func everyCompressionMethodNamesTheTensorInsteadOfTrapping(_ method: String) throws {
        let (base, model) = try Self.nanBERT("compress-\(method)")
        defer { try? FileManager.default.removeItem(at: base) }
        let texts = base.appendingPathComponent("texts.txt")
        try "a cat sat on the mat\nthe dog runs in the park\nstocks fell sharply monday\n".write(to: texts, atomically: true, encoding: .utf8)
        var arguments = ["compress", model.path, "-o", base.appendingPathComponent("out").path, "--method", method,
                         "--backend", "cpu", "--allow-nonfinite"]
        arguments += method == "rtn" ? ["--quant", "int4-g32"] : ["--calib", texts.path, "--samples", "3"]
        arguments += method == "auto" ? ["--target-size", "0.5"] : method == "rtn" ? [] : ["--quant", "int8"]
        Self.expectRefusal(try slim(arguments), [Self.poisoned, "NaN", "quantize"], method)
    }

    @Test func embedQuantizeAndFinetuneQuantNameTheTensorInsteadOfTrapping() throws {
        let (base, model) = try Self.nanBERT("embed-finetune")
        defer { try? FileManager.default.removeItem(at: base) }
        let embed = try slim(["embed", model.path, "a cat", "--quantize", "int4-g32", "--backend", "cpu", "--allow-nonfinite"])
        Self.expectRefusal(embed, [Self.poisoned, "NaN", "quantize"], "embed --quantize")
        let teacher = try ModelFixtures.tinyBERT(base, "teacher")
        let texts = base.appendingPathComponent("texts.txt")
        try "a cat sat on the mat\nthe dog runs in the park\n".write(to: texts, atomically: true, encoding: .utf8)
        let finetune = try slim(["finetune", model.path, "--teacher", teacher.path, "--data", texts.path, "--quant", "int4-g32",
                                 "--steps", "1", "--batch", "2", "--seq", "8", "-o", base.appendingPathComponent("ft").path,
                                 "--backend", "cpu", "--allow-nonfinite"])
        Self.expectRefusal(finetune, [Self.poisoned, "NaN", "quantize"], "finetune --quant")
    }

    /// A GGUF's f32 norm weights are scanned as they load.
    @Test func generateRefusesAGGUFWithANaNNormWeight() throws {
        let base = try ModelFixtures.workspace("gguf-nan")
        defer { try? FileManager.default.removeItem(at: base) }
        let gguf = try ModelFixtures.copy(DecoderCLI.smolLM2, to: base.appendingPathComponent("nan.gguf"))
        try ModelFixtures.poisonGGUF(gguf, tensor: "blk.7.attn_norm.weight", element: 11, with: .nan)
        let r = try slim(["generate", gguf.path, "Hello", "--max-tokens", "2", "--backend", "cpu"])
        Self.expectRefusal(r, ["blk.7.attn_norm.weight", gguf.path, "element 11"], "generate")
    }
}
