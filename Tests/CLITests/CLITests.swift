import Foundation
import Testing

/// Runs the built `slim` executable, which sits beside the test bundle.
func slim(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var url = bundle.appendingPathComponent("slim")
    // On Linux the test binary lives in the build folder itself; under xctest on macOS one level deeper.
    if !FileManager.default.fileExists(atPath: url.path) {
        url = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("slim")
    }
    let process = Process()
    process.executableURL = url
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite(.serialized) struct CLI {
    @Test func devicesJSONListsTheCPUAndMarksAuto() throws {
        let r = try slim(["devices", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let devices = try #require(json["devices"] as? [[String: Any]])
        #expect(devices.contains { $0["backend"] as? String == "cpu" })
        #expect(devices.filter { $0["auto"] as? Bool == true }.count == 1)
        if ProcessInfo.processInfo.environment["SLIM_REQUIRE_OPENCL"] == "1" {
            #expect(devices.contains { $0["backend"] as? String == "opencl" }, "no OpenCL device listed")
        }
    }

    @Test func benchGemmJSONHasTheFieldsOnBothBackends() throws {
        let backends = ProcessInfo.processInfo.environment["SLIM_REQUIRE_OPENCL"] == "1" ? "cpu,opencl" : "cpu"
        let r = try slim(["bench", "gemm", "--shape", "33x65x17", "--backend", backends, "--runs", "5", "--warmup", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == backends.split(separator: ",").count)
        for row in rows {
            for key in ["backend", "op", "shape", "median_ms", "gflops", "peak_gflops", "pct_peak"] {
                #expect(row[key] != nil, "missing \(key) in \(row)")
            }
            #expect(row["shape"] as? String == "33x65x17")
            #expect((row["gflops"] as? Double ?? 0) > 0)
        }
        #expect(r.stderr.contains("backend: "), "the chosen backend is reported")
    }

    @Test func autoReportsItsChoice() throws {
        let r = try slim(["bench", "gemm", "--shape", "8x8x8", "--json"], environment: ["SLIM_BACKEND": "auto"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("auto:"), "auto says what it picked and why: \(r.stderr)")
    }

    @Test func unknownBackendIsAClearErrorAndNonZeroExit() throws {
        let r = try slim(["bench", "gemm", "--shape", "8x8x8", "--backend", "metal"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("unknown backend 'metal'"), "stderr: \(r.stderr)")
        let env = try slim(["bench", "gemm", "--shape", "8x8x8"], environment: ["SLIM_BACKEND": "tpu"])
        #expect(env.status != 0 && env.stderr.contains("unknown backend 'tpu'"))
        let shape = try slim(["bench", "gemm", "--shape", "8x8"])
        #expect(shape.status != 0 && shape.stderr.contains("MxNxK"))
    }
}
