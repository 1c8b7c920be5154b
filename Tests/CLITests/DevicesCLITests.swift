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

    @Test func aDeviceThatIsNotThereIsNamed() throws {
        let r = try slim(["perplexity", Self.decoder, "--file", MPICLI.text, "--devices", "0,7"], environment: Self.twoDevices)
        #expect(r.status != 0 && r.stderr.contains("--devices 0,7"), "\(r.stderr)")
    }
}
