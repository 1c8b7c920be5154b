import Foundation
import Testing
import TestSupport

/// `slim compress --method auto`: the options it needs together are refused apart, before any work.
@Suite struct AutoCLITests {
    @Test(arguments: [
        (["--method", "auto"], "give --target-size"),
        (["--target-size", "0.2"], "add --method auto"),
        (["--target-size", "0.2", "--method", "gptq"], "add --method auto"),
        (["--target-size", "1.2", "--method", "auto"], "0 < F < 1"),
        (["--target-size", "0", "--method", "auto"], "0 < F < 1"),
        (["--target-size", "0.2", "--method", "auto", "--layer", "pooler.dense=fp32"], "no --layer"),
    ])
    func autoWithoutItsBudgetAndTheOtherWayRoundAreRefused(_ options: [String], _ expected: String) throws {
        let out = Temporary.url("auto-never-written")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try slim(["compress", "/nonexistent-model", "-o", out.path] + options)
        #expect(r.status != 0 && r.stderr.contains(expected), "\(options): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
