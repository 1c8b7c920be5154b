import Foundation
import Testing
import TestSupport

/// Issue 20: `--devices` splits a command over several OpenCL devices in one process,
/// a replica per device. PoCL exposes two CPU devices with `POCL_DEVICES="pthread pthread"`;
/// two devices must give one device's results bit for bit (exact Hessian sums, gathered NLLs).
@Suite(.serialized) struct DevicesCLI {
    static let decoder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/decoders/llama3").path
    static let twoDevices = ["POCL_DEVICES": "pthread pthread"]

    @Test func twoDevicesGiveOneDevicesPerplexityAndGPTQ() throws {
        try OpenCLHalf.require()
        let ppl = ["perplexity", Self.decoder, "--file", MPICLI.text, "--ctx", "32", "--chunks", "5", "--json"]
        let one = try slim(ppl + ["--devices", "0"], environment: Self.twoDevices)
        let two = try slim(ppl + ["--devices", "all"], environment: Self.twoDevices)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
        let a = try StructuredPruneCLI.json(one.stdout), b = try StructuredPruneCLI.json(two.stdout)
        #expect(b["devices"] as? Int == 2, "PoCL did not expose two devices: \(two.stdout)")
        #expect(a["token_nll"] as? [Double] == b["token_nll"] as? [Double] && (a["token_nll"] as? [Double])?.count == 75)

        let base = try Temporary.folder("devices-gptq")
        defer { try? FileManager.default.removeItem(at: base) }
        func compress(_ devices: String) throws -> Data {
            let out = base.appendingPathComponent(devices.replacingOccurrences(of: ",", with: "-"))
            let r = try slim(["compress", Self.decoder, "-o", out.path, "--method", "gptq", "--quant", "int4-g32", "--calib", MPICLI.text,
                              "--samples", "5", "--seq", "32", "--devices", devices], environment: Self.twoDevices)
            #expect(r.status == 0, "\(r.stderr)")
            return try Data(contentsOf: out.appendingPathComponent("model.safetensors"))
        }
        #expect(try compress("0") == compress("0,1"), "two devices wrote other bytes than one")
    }

    /// `slim eval` of a decoder and its int8 copy on two devices: one device's report bit for bit
    /// (each device runs its share of the chunks, every position gathered), bar the throughput.
    @Test func twoDevicesGiveOneDevicesEvalReport() throws {
        try OpenCLHalf.require()
        let base = try Temporary.folder("devices-eval")
        defer { try? FileManager.default.removeItem(at: base) }
        let compressed = base.appendingPathComponent("int8").path
        let q = try slim(["compress", Self.decoder, "-o", compressed, "--quant", "int8"])
        #expect(q.status == 0, "\(q.stderr)")
        let arguments = ["eval", Self.decoder, compressed, "--data", MPICLI.text, "--ctx", "32", "--chunks", "5", "--robustness", "--no-card", "--json"]
        let one = try slim(arguments + ["--devices", "0"], environment: Self.twoDevices)
        let two = try slim(arguments + ["--devices", "all"], environment: Self.twoDevices)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
        let a = try StructuredPruneCLI.json(one.stdout), b = try StructuredPruneCLI.json(two.stdout)
        #expect((a["robustness"] as? [Any])?.isEmpty == false)
        try EvalReports.expectEqual(a, b, ranks: 1, devices: 2)
    }

    /// The tiny distillation of `DistillCLI` on the OpenCL devices `devices` instead of the CPU backend.
    static func distill(_ w: (base: URL, teacher: URL, data: URL), output: String, steps: Int = 5, devices: String) -> [String] {
        var args = DistillCLI.arguments(w, output: output, steps: steps)
        if let i = args.firstIndex(of: "--backend") { args.removeSubrange(i...i + 1) }
        return args + ["--devices", devices]
    }

    /// A replica per device, each on half of every global batch of 4, gradients summed exactly before
    /// AdamW: one device's loss curve within 1e-5 relative (float32 gradients of two half batches, not
    /// one whole batch's; measured differences are ~1e-7). A checkpoint of two devices resumes on one.
    @Test(.seeded) func twoDevicesFollowOneDevicesDistillationCurve() throws {
        try OpenCLHalf.require()
        let w = try DistillCLI.workspace("devices")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let one = try slim(Self.distill(w, output: "one", devices: "0") + ["--json"], environment: Self.twoDevices)
        let two = try slim(Self.distill(w, output: "two", devices: "all") + ["--json"], environment: Self.twoDevices)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
        let report = try StructuredPruneCLI.json(two.stdout)
        #expect(report["devices"] as? Int == 2 && report["ranks"] as? Int == 1, "PoCL did not expose two devices: \(two.stdout)")
        #expect(try StructuredPruneCLI.json(one.stdout)["devices"] as? Int == 1)
        let a = try DistillCLI.losses(w.base.appendingPathComponent("one")), b = try DistillCLI.losses(w.base.appendingPathComponent("two"))
        #expect(a.count == 5 && MPICLI.close(a, b), "one device \(a), two devices \(b)")
        #expect(a != b || a.isEmpty, "two devices gave one device's curve bit for bit: was the batch split at all? \(a)")

        let args = Self.distill(w, output: "resumed", devices: "all") + ["--checkpoint-every", "1"]
        let first = try slim(args + ["--stop-after", "3"], environment: Self.twoDevices)
        #expect(first.status == 0, "\(first.stderr)")
        let rest = try slim(Self.distill(w, output: "resumed", devices: "0") + ["--checkpoint-every", "1", "--resume"], environment: Self.twoDevices)
        #expect(rest.status == 0, "\(rest.stderr)")
        let resumed = try DistillCLI.losses(w.base.appendingPathComponent("resumed"))
        #expect(MPICLI.close(resumed, a), "two devices for 3 steps, then one: \(resumed) vs \(a)")
    }

    /// Device 1's replica fails after step 2: device 0's stops at its next exchange (not at the
    /// 600 s collective timeout) and the job ends with an error naming device 1; no output appears.
    @Test(.seeded) func aFailingReplicaEndsTheJobNamingItsDevice() throws {
        try OpenCLHalf.require()
        let w = try DistillCLI.workspace("devices-fail")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let start = Date()
        let r = try slim(Self.distill(w, output: "out", devices: "all"),
                         environment: Self.twoDevices.merging(["SLIM_TEST_EXIT_RANK": "1", "SLIM_TEST_EXIT_STEP": "2", "SLIM_TEST_FAIL": "1",
                                                               "SLIM_COLLECTIVE_TIMEOUT": "600"]) { $1 })
        let seconds = Date().timeIntervalSince(start)
        #expect(r.status != 0, "\(r.stderr)")
        #expect(seconds < 120, "\(seconds) s: the other replica waited for the timeout")
        #expect(r.stderr.contains("rank 1 of 2, device 1") && r.stderr.contains("fails at step 2"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.base.appendingPathComponent("out").path))
    }

    @Test func aDeviceThatIsNotThereIsNamed() throws {
        let r = try slim(["perplexity", Self.decoder, "--file", MPICLI.text, "--devices", "0,7"], environment: Self.twoDevices)
        #expect(r.status != 0 && r.stderr.contains("--devices 0,7"), "\(r.stderr)")
    }
}
