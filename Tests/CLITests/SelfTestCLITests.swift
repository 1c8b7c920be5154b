import Foundation
import Testing

/// `slim selftest`: the conformance checks from the command line.
@Suite struct SelfTestCLITests {
    /// Every op of a quick run passes on the CPU backend, then on the OpenCL
    /// device under every shipped tuning row, with one JSON record per op
    /// carrying its worst NMSE and the bound.
    @Test func quickRunPassesOnEveryRowAndReportsEachOp() throws {
        let cpu = try slim(["selftest", "--device", "cpu", "--quick", "--json"])
        #expect(cpu.status == 0, "stderr: \(cpu.stderr)\nstdout: \(cpu.stdout)")
        try checkReport(cpu.stdout, runs: 1)
        try OpenCLHalf.require()
        let rows = try slim(["selftest", "--row", "all", "--quick", "--json"])
        #expect(rows.status == 0, "stderr: \(rows.stderr)\nstdout: \(rows.stdout)")
        // Every shipped row of Kernels/tuning.json, by name.
        let names = ["cpu", "gpu", "nvidia", "intel-gpu"]
        try checkReport(rows.stdout, runs: names.count)
        for name in names { #expect(rows.stderr.contains("row \(name),"), "\(rows.stderr)") }
    }

    private func checkReport(_ stdout: String, runs: Int) throws {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        #expect(json["passed"] as? Bool == true)
        let reports = try #require(json["runs"] as? [[String: Any]])
        #expect(reports.count == runs)
        for report in reports {
            let ops = try #require(report["ops"] as? [[String: Any]])
            let names = Set(ops.compactMap { $0["op"] as? String })
            for op in ["gemm", "quantizedMatmul", "dequantize", "attention", "attentionBackward", "softmaxRows", "layerNorm", "rmsNorm"] {
                #expect(names.contains(op), "\(op) is checked")
            }
            for op in ops {
                let worst = try #require(op["worst_nmse"] as? Double, "\(op)"), bound = try #require(op["tolerance"] as? Double)
                #expect(worst <= bound && op["passed"] as? Bool == true, "\(op)")
            }
        }
    }

    /// `--op` narrows the run and replays with `--seed`; names that do not exist are errors, not empty runs.
    @Test func opSeedAndBadNames() throws {
        let one = try slim(["selftest", "--device", "cpu", "--op", "dequantize", "--quick", "--seed", "42"])
        #expect(one.status == 0 && one.stdout.contains("dequantize") && !one.stdout.contains("gemm"), "\(one.stdout)\(one.stderr)")
        #expect(one.stdout.contains("seed 42"))
        let badOp = try slim(["selftest", "--device", "cpu", "--op", "gemmm"])
        #expect(badOp.status != 0 && badOp.stderr.contains("--op gemmm: no such op"), "\(badOp.stderr)")
        let badDevice = try slim(["selftest", "--device", "99"])
        #expect(badDevice.status != 0 && badDevice.stderr.contains("--device 99"), "\(badDevice.stderr)")
        try OpenCLHalf.require()
        let badRow = try slim(["selftest", "--row", "tpu", "--quick"])
        #expect(badRow.status != 0 && badRow.stderr.contains("tuning row 'tpu' does not exist"), "\(badRow.stderr)")
    }
}
