import Foundation
import Testing

@Suite(.serialized) struct CLI {
    @Test func devicesJSONListsTheCPUAndMarksAuto() throws {
        let r = try slim(["devices", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let devices = try #require(json["devices"] as? [[String: Any]])
        #expect(devices.contains { $0["backend"] as? String == "cpu" })
        #expect(devices.filter { $0["auto"] as? Bool == true }.count == 1)
        if OpenCLHalf.required {
            #expect(devices.contains { $0["backend"] as? String == "opencl" }, "no OpenCL device listed")
        }
    }

    /// The CPU entry names its fp32 GEMM engine and why (issue #19); SLIM_GEMM
    /// forces one, and a value that is neither engine is an error, not ignored.
    @Test func devicesNamesTheGemmPathAndHonoursTheOverride() throws {
        func cpuGemm(_ environment: [String: String]) throws -> [String: Any] {
            let r = try slim(["devices", "--json"], environment: environment)
            try #require(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let cpu = try #require((json["devices"] as? [[String: Any]])?.first { $0["backend"] as? String == "cpu" })
            return try #require(cpu["gemm"] as? [String: Any])
        }
        let chosen = try cpuGemm([:])
        #expect(["own", "blas"].contains(chosen["engine"] as? String ?? ""), "\(chosen)")
        #expect((chosen["reason"] as? String ?? "").isEmpty == false)
        #expect(chosen["cpu_level"] is String)
        for engine in ["own", "blas"] {
            let forced = try cpuGemm(["SLIM_GEMM": engine])
            #expect(forced["engine"] as? String == engine)
            #expect(forced["reason"] as? String == "SLIM_GEMM=\(engine) set")
        }
        let bad = try slim(["devices"], environment: ["SLIM_GEMM": "fastest"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("SLIM_GEMM='fastest': expected 'own' or 'blas'"), "\(bad.stderr)")
    }

    @Test func benchGemmJSONHasTheFieldsOnBothBackends() throws {
        func check(_ backends: String) throws {
            let r = try slim(["bench", "gemm", "--shape", "33x65x17", "--backend", backends, "--runs", "5", "--warmup", "1", "--json"])
            try #require(r.status == 0, "\(r.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            #expect(rows.map { $0["backend"] as? String } == backends.split(separator: ",").map(String.init))
            for row in rows {
                for key in ["backend", "op", "shape", "median_ms", "gflops", "peak_gflops", "pct_peak"] {
                    #expect(row[key] != nil, "missing \(key) in \(row)")
                }
                #expect(row["shape"] as? String == "33x65x17")
                #expect((row["gflops"] as? Double ?? 0) > 0)
            }
            #expect(r.stderr.contains("backend: "), "the chosen backend is reported")
        }
        try check("cpu")
        try OpenCLHalf.require()
        try check("cpu,opencl")
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

/// `slim inspect` on the real SmolLM2 GGUF and MiniLM folder.
@Suite(.serialized) struct InspectCLI {
    static var models: String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["SLIM_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache/slim")
        return cache + "/models"
    }

    @Test func ggufJSONListsEveryTensor() throws {
        let r = try slim(["inspect", Self.models + "/SmolLM2-135M-Instruct.Q4_1.gguf", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["format"] as? String == "gguf" && json["architecture"] as? String == "llama")
        // The counts llama.cpp's gguf-py reports for this file.
        #expect(json["parameter_count"] as? Int == 134_515_008)
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        #expect(tensors.count == 272)
        #expect(Set(tensors.compactMap { $0["dtype"] as? String }) == ["q4_1", "q8_0", "f32"])
        let embedding = try #require(tensors.first { $0["name"] as? String == "token_embd.weight" })
        #expect(embedding["shape"] as? [Int] == [49152, 576] && embedding["bytes"] as? Int == 49152 * 576 / 32 * 34)
        let config = try #require(json["config"] as? [String: Any])
        #expect(config["llama.block_count"] as? Int == 30)
        #expect((json["file_bytes"] as? Int ?? 0) > 90_000_000)
    }

    @Test func folderJSONReadsConfigAndSafeTensors() throws {
        let r = try slim(["inspect", Self.models + "/all-MiniLM-L6-v2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["format"] as? String == "safetensors" && json["architecture"] as? String == "bert")
        #expect((json["parameter_count"] as? Int ?? 0) > 0)
        #expect((json["config"] as? [String: Any])?["hidden_size"] as? Int == 384)
        #expect((json["tensors"] as? [Any])?.count == 104)
    }

    @Test func humanOutputHasTheTableAndTotals() throws {
        let r = try slim(["inspect", Self.models + "/SmolLM2-135M-Instruct.Q4_1.gguf"])
        #expect(r.status == 0, "\(r.stderr)")
        for text in ["architecture: llama", "llama.block_count", "tensors (272):", "token_embd.weight", "parameters: 134,515,008"] {
            #expect(r.stdout.contains(text), "missing '\(text)'")
        }
    }

    @Test func missingOrForeignFilesFailNamingThePath() throws {
        let missing = try slim(["inspect", "/nonexistent/model.gguf"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/model.gguf"), "\(missing.stderr)")
        let config = Self.models + "/all-MiniLM-L6-v2/config.json"
        let foreign = try slim(["inspect", config])
        #expect(foreign.status != 0)
        #expect(foreign.stderr.contains(config) && foreign.stderr.contains("not a GGUF file"), "\(foreign.stderr)")
    }
}
