import Foundation
import Testing
import TestSupport

/// `slim compress … -o X.gguf` and `slim export`: the GGUF path of the CLI,
/// its refusals, and a kill before the rename leaving the old file whole.
@Suite struct GGUFOutputCLITests {
    @Test func compressToGGUFAndExportAndTheirRefusals() throws {
        let base = try Temporary.folder("gguf-cli")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = try ModelFixtures.tinyBERT(base, "bert")
        let out = base.appendingPathComponent("bert-q8_0.gguf")
        let made = try slim(["compress", model.path, "-o", out.path, "--quant", "q8_0", "--backend", "cpu"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("as GGUF (bert"), "\(made.stdout)")
        let inspected = try slim(["inspect", out.path, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
        #expect(inspected.status == 0 && report?["architecture"] as? String == "bert", "\(inspected.stdout.prefix(400))")
        #expect(!FileManager.default.fileExists(atPath: base.appendingPathComponent(".bert-q8_0.gguf.partial-\(getpid())").path))
        #expect(OutputSafetyCLI.leftovers(beside: out).allSatisfy { $0.hasSuffix(".lock") }, "no scratch folder or file left")

        let int4 = try slim(["compress", model.path, "-o", base.appendingPathComponent("x.gguf").path, "--quant", "int4-g32"])
        #expect(int4.status != 0 && int4.stderr.contains("q8_0, q4_0, q5_0, q5_1, q4_k, q6_k or q4_k_m"), "\(int4.stderr)")
        let again = try slim(["compress", model.path, "-o", out.path, "--quant", "q8_0"])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again.stderr)")

        let folder = base.appendingPathComponent("bert-int8")
        #expect(try slim(["compress", model.path, "-o", folder.path, "--quant", "int8"]).status == 0)
        let refused = try slim(["export", folder.path, "-o", base.appendingPathComponent("int8.gguf").path])
        #expect(refused.status != 0 && refused.stderr.contains("GGUF takes q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k"), "\(refused.stderr)")
        let exported = try slim(["export", model.path, "-o", base.appendingPathComponent("f16.gguf").path, "--json"])
        #expect(exported.status == 0 && exported.stdout.contains("\"F16\""), "\(exported.stdout) \(exported.stderr)")
    }

    /// Killed after the file is complete but before its rename: the old file is
    /// untouched, and the next run removes the scratch file, saying so.
    @Test func aKillBeforeTheRenameLeavesTheOldFile() throws {
        let base = try Temporary.folder("gguf-kill")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = try ModelFixtures.tinyBERT(base, "bert")
        let out = base.appendingPathComponent("m.gguf")
        #expect(try slim(["export", model.path, "-o", out.path]).status == 0)
        let old = try Data(contentsOf: out)
        let killed = try slim(["compress", model.path, "-o", out.path, "--quant", "q8_0", "--overwrite"], environment: ["SLIM_FAULT_AT": "gguf-staged"])
        #expect(killed.status != 0)
        #expect(try Data(contentsOf: out) == old, "the old output is intact")
        #expect(OutputSafetyCLI.leftovers(beside: out).contains { $0.hasSuffix(".tmp") }, "the complete scratch file was left by the kill")
        let next = try slim(["compress", model.path, "-o", out.path, "--quant", "q8_0", "--overwrite"])
        #expect(next.status == 0 && next.stderr.contains("removed"), "\(next.stderr)")
        #expect(try Data(contentsOf: out) != old)
        #expect(OutputSafetyCLI.leftovers(beside: out).allSatisfy { $0.hasSuffix(".lock") })
    }
}
