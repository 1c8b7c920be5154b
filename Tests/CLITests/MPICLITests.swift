import Foundation
import Testing
import TestSupport

/// `mpirun` with the executable: where it is, and whether its absence is on purpose.
/// CI installs Open MPI (scripts/setup.sh), so a missing `mpirun` fails these tests with a message;
/// only `SLIM_NO_MPI=1` says MPI is absent on purpose and turns them off (reported as skipped).
enum MPILauncher {
    static var declaredAbsent: Bool { ProcessInfo.processInfo.environment["SLIM_NO_MPI"] == "1" }

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "mpirun is not installed: scripts/setup.sh installs Open MPI (libopenmpi-dev, openmpi-bin); set SLIM_NO_MPI=1 only where MPI is absent on purpose"
        }
    }

    static func mpirun() throws -> URL {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
        guard let found = path.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else { throw Missing() }
        return found
    }

    /// Open MPI on one machine whatever the network: shared memory and self only (no TCP interface
    /// probing), no single-copy mechanism (containers often forbid ptrace), more ranks than cores allowed,
    /// no binding (ranks share the 2 cores), root allowed (CI runs as root).
    static let options = ["--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader",
                          "--mca", "btl_vader_single_copy_mechanism", "none"]
    static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_btl": "self,vader"]

    /// `mpirun -np N slim ARGS`, or with `programs` several command lines (MPMD: `-np 1 slim A : -np 1 slim B`).
    static func slim(ranks: Int, _ arguments: [String], programs: [[String]]? = nil, environment extra: [String: String] = [:],
                     timeout: Double = CommandTimeout.seconds) throws -> (status: Int32, stdout: String, stderr: String) {
        let apps = programs ?? [arguments]
        let perApp = programs == nil ? ranks : 1
        let line = apps.enumerated().flatMap { i, args in (i > 0 ? [":"] : []) + ["-np", "\(perApp)", slimExecutable.path] + args }
        var env = environment.merging(extra) { $1 }
        // Forward the variables the ranks need (mpirun passes its own environment to local ranks).
        env["SLIM_THREAD_SPIN"] = ProcessInfo.processInfo.environment["SLIM_THREAD_SPIN"] ?? "0"
        return try run(try mpirun(), options + line, environment: env, timeout: timeout)
    }
}

/// Issue 20: `mpirun -np 2` on this machine equals one process — the loss curve of a 5-step
/// distillation, the packed weights of a GPTQ compression, a perplexity — a checkpoint resumes
/// with another rank count, and a rank that dies or disagrees ends the job with an error, never a hang.
@Suite(.serialized, .enabled(if: !MPILauncher.declaredAbsent, "SLIM_NO_MPI=1: MPI absent on purpose"))
struct MPICLI {
    static let decoder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/decoders/llama3").path
    static let text = "/usr/share/games/fortunes/wisdom"

    /// Same tolerance and reason as `DataParallelDistillation.tolerance`: float32 gradients summed in another order.
    static func close(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(abs($0), abs($1)) }
    }

    @Test(.seeded) func distillationOverTwoRanksFollowsOneProcess() throws {
        let w = try DistillCLI.workspace("mpi")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let one = try slim(DistillCLI.arguments(w, output: "one", steps: 5) + ["--json"])
        #expect(one.status == 0, "\(one.stderr)")
        let two = try MPILauncher.slim(ranks: 2, DistillCLI.arguments(w, output: "two", steps: 5) + ["--json"])
        #expect(two.status == 0, "\(two.stderr)")
        let a = try DistillCLI.losses(w.base.appendingPathComponent("one")), b = try DistillCLI.losses(w.base.appendingPathComponent("two"))
        #expect(a.count == 5 && Self.close(a, b), "one process \(a), two ranks \(b)")
        let report = try StructuredPruneCLI.json(two.stdout)
        #expect(report["ranks"] as? Int == 2 && report["devices"] as? Int == 2, "JSON from rank 0 only, with ranks and devices: \(two.stdout)")
        #expect(try StructuredPruneCLI.json(one.stdout)["ranks"] as? Int == 1)
    }

    @Test func gptqOverTwoRanksWritesTheSameBytes() throws {
        let base = try Temporary.folder("mpi-gptq")
        defer { try? FileManager.default.removeItem(at: base) }
        func arguments(_ out: String) -> [String] {
            ["compress", Self.decoder, "-o", base.appendingPathComponent(out).path, "--method", "gptq", "--quant", "int4-g32",
             "--calib", Self.text, "--samples", "7", "--seq", "32", "--backend", "cpu"]
        }
        let one = try slim(arguments("one"))
        #expect(one.status == 0, "\(one.stderr)")
        let two = try MPILauncher.slim(ranks: 2, arguments("two"))
        #expect(two.status == 0, "\(two.stderr)")
        let a = try Data(contentsOf: base.appendingPathComponent("one/model.safetensors"))
        let b = try Data(contentsOf: base.appendingPathComponent("two/model.safetensors"))
        #expect(a == b, "the packed weights differ between one process and two ranks")
    }

    @Test func perplexityOverTwoRanksIsTheSameBits() throws {
        let arguments = ["perplexity", Self.decoder, "--file", Self.text, "--ctx", "32", "--chunks", "5", "--backend", "cpu", "--json"]
        let one = try slim(arguments), two = try MPILauncher.slim(ranks: 2, arguments)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
        let a = try StructuredPruneCLI.json(one.stdout), b = try StructuredPruneCLI.json(two.stdout)
        #expect(a["token_nll"] as? [Double] == b["token_nll"] as? [Double] && a["ppl"] as? Double == b["ppl"] as? Double)
        #expect((a["token_nll"] as? [Double])?.count == 5 * 15)
    }

    /// `slim eval` of a decoder and its int8 copy: every figure of the report (perplexities, KL,
    /// top-1 agreement, calibration, slices by length, robustness, worst positions) is one process's,
    /// bit for bit; only the throughput and `ranks`/`devices` differ.
    @Test func evalOverTwoRanksIsOneProcesssReport() throws {
        let base = try Temporary.folder("mpi-eval")
        defer { try? FileManager.default.removeItem(at: base) }
        let compressed = base.appendingPathComponent("int8").path
        let q = try slim(["compress", Self.decoder, "-o", compressed, "--quant", "int8"])
        #expect(q.status == 0, "\(q.stderr)")
        let arguments = ["eval", Self.decoder, compressed, "--data", Self.text, "--ctx", "32", "--chunks", "5", "--slices", "by-length",
                         "--robustness", "--no-card", "--backend", "cpu", "--json"]
        let one = try slim(arguments), two = try MPILauncher.slim(ranks: 2, arguments)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
        #expect(two.stdout.components(separatedBy: "\"ranks\"").count == 2, "one report, from rank 0: \(two.stdout)")
        let a = try StructuredPruneCLI.json(one.stdout)
        #expect((a["slices"] as? [Any])?.isEmpty == false && (a["robustness"] as? [Any])?.isEmpty == false, "\(one.stdout)")
        try EvalReports.expectEqual(a, try StructuredPruneCLI.json(two.stdout), ranks: 2, devices: 2)
        let encoder = try MPILauncher.slim(ranks: 2, ["eval", compressed, compressed, "--backend", "cpu"])
        #expect(encoder.status != 0, "\(encoder.stderr)")
    }

    /// 3 steps on 2 ranks then 2 on 1 rank, and 3 on 1 then 2 on 2: one uninterrupted process's curve.
    @Test(.seeded) func aCheckpointResumesWithAnotherRankCount() throws {
        let w = try DistillCLI.workspace("mpi-resume")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let straight = try slim(DistillCLI.arguments(w, output: "straight", steps: 5))
        #expect(straight.status == 0, "\(straight.stderr)")
        let expected = try DistillCLI.losses(w.base.appendingPathComponent("straight"))
        for (first, second) in [(2, 1), (1, 2)] {
            let name = "resumed-\(first)-\(second)"
            let args = DistillCLI.arguments(w, output: name, steps: 5) + ["--checkpoint-every", "1"]
            func launch(_ ranks: Int, _ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
                ranks == 1 ? try slim(args + extra) : try MPILauncher.slim(ranks: ranks, args + extra)
            }
            let a = try launch(first, ["--stop-after", "3"])
            #expect(a.status == 0, "\(a.stderr)")
            let b = try launch(second, ["--resume"])
            #expect(b.status == 0, "\(b.stderr)")
            let got = try DistillCLI.losses(w.base.appendingPathComponent(name))
            #expect(Self.close(got, expected), "\(first) rank(s) then \(second): \(got) vs \(expected)")
        }
    }

    /// Rank 1 exits after step 2 (a test hook, as a crash would): the job ends with an error within
    /// the collective timeout, and no output folder appears.
    @Test(.seeded) func aRankThatDiesEndsTheJob() throws {
        let w = try DistillCLI.workspace("mpi-kill")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let start = Date()
        let r = try MPILauncher.slim(ranks: 2, DistillCLI.arguments(w, output: "out", steps: 5),
                                     environment: ["SLIM_TEST_EXIT_RANK": "1", "SLIM_TEST_EXIT_STEP": "2", "SLIM_COLLECTIVE_TIMEOUT": "20"],
                                     timeout: 120)
        let seconds = Date().timeIntervalSince(start)
        #expect(r.status != 0, "the job went on without rank 1: \(r.stderr)")
        #expect(seconds < 60, "\(seconds) s to end the job")
        #expect(!FileManager.default.fileExists(atPath: w.base.appendingPathComponent("out").path))
        #expect(r.stderr.contains("rank 1") || r.stderr.contains("exited"), "\(r.stderr)")
    }

    /// Rank 1 stops answering after step 2 (alive, stuck): rank 0's collective times out after
    /// SLIM_COLLECTIVE_TIMEOUT (5 s here) and MPI_Abort ends every rank, with an error naming the step.
    @Test(.seeded) func aStuckRankEndsTheJobAtTheTimeout() throws {
        let w = try DistillCLI.workspace("mpi-stall")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let start = Date()
        let r = try MPILauncher.slim(ranks: 2, DistillCLI.arguments(w, output: "out", steps: 5),
                                     environment: ["SLIM_TEST_EXIT_RANK": "1", "SLIM_TEST_EXIT_STEP": "2", "SLIM_TEST_STALL": "1",
                                                   "SLIM_COLLECTIVE_TIMEOUT": "5"], timeout: 120)
        let seconds = Date().timeIntervalSince(start)
        #expect(r.status != 0, "\(r.stderr)")
        #expect(seconds < 60, "\(seconds) s to end the job")
        #expect(r.stderr.contains("rank 0 of 2, step 3: summing gradients") && r.stderr.contains("did not join within 5"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.base.appendingPathComponent("out").path))
    }

    /// Ranks started with different step counts (MPMD) stop at once, naming the rank that differs.
    @Test(.seeded) func ranksWithDifferentCommandLinesAreNamed() throws {
        let w = try DistillCLI.workspace("mpi-mismatch")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let r = try MPILauncher.slim(ranks: 2, [], programs: [DistillCLI.arguments(w, output: "out", steps: 5),
                                                              DistillCLI.arguments(w, output: "out", steps: 6)], timeout: 120)
        #expect(r.status != 0)
        #expect(r.stderr.contains("rank 1 of 2") && r.stderr.contains("command line"), "\(r.stderr)")
    }

    /// `slim devices` under 2 ranks: each rank's listing, in rank order; as JSON one object from
    /// rank 0 with every rank's devices gathered under `ranks_devices`.
    @Test func devicesListsEveryRanksDevices() throws {
        let text = try MPILauncher.slim(ranks: 2, ["devices"])
        #expect(text.status == 0, "\(text.stderr)")
        let first = text.stdout.range(of: "rank 0 of 2"), second = text.stdout.range(of: "rank 1 of 2")
        #expect(first != nil && second != nil && first!.lowerBound < second!.lowerBound, "\(text.stdout)")
        let json = try MPILauncher.slim(ranks: 2, ["devices", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try StructuredPruneCLI.json(json.stdout)
        let perRank = report["ranks_devices"] as? [[String: Any]] ?? []
        #expect(report["ranks"] as? Int == 2 && perRank.map { $0["rank"] as? Int } == [0, 1], "\(json.stdout)")
        #expect(perRank.allSatisfy { ($0["devices"] as? [[String: Any]])?.contains { $0["backend"] as? String == "cpu" } == true })
    }

    /// A command that does not split its work refuses to run on several ranks instead of doing it N times.
    @Test func aCommandThatDoesNotSplitRefuses() throws {
        let r = try MPILauncher.slim(ranks: 2, ["inspect", Self.decoder])
        #expect(r.status != 0 && r.stderr.contains("does not split its work across ranks"), "\(r.stderr)")
    }
}

/// Launched as an MPI rank (the launcher's variable set) but libmpi cannot be opened: an error naming
/// the library, never a silent run as one process. Needs no MPI installed.
@Suite struct MPIMissingCLI {
    @Test func aRankWithoutMPIIsAnError() throws {
        let r = try slim(["devices"], environment: ["OMPI_COMM_WORLD_SIZE": "2", "SLIM_MPI_LIBRARY": "/nonexistent/libmpi.so.40"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("cannot open the MPI library") && r.stderr.contains("OMPI_COMM_WORLD_SIZE"), "\(r.stderr)")
    }
}

/// Two `slim eval --json` reports of the same models and text, one split over ranks or devices.
enum EvalReports {
    /// Measured time, not a result.
    static let timings: Set<String> = ["tokens_per_s_original", "tokens_per_s_compressed"]

    static func expectEqual(_ one: [String: Any], _ split: [String: Any], ranks: Int, devices: Int,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(split["ranks"] as? Int == ranks && split["devices"] as? Int == devices, "\(split)", sourceLocation: sourceLocation)
        #expect(one["ranks"] as? Int == 1 && one["devices"] as? Int == 1, sourceLocation: sourceLocation)
        for key in Set(one.keys).union(split.keys).subtracting(timings.union(["ranks", "devices"])).sorted() {
            let a = try one[key].map { try JSONSerialization.data(withJSONObject: ["v": $0], options: .sortedKeys) }
            let b = try split[key].map { try JSONSerialization.data(withJSONObject: ["v": $0], options: .sortedKeys) }
            #expect(a != nil && a == b, "\(key): one process \(one[key] ?? "none"), split \(split[key] ?? "none")", sourceLocation: sourceLocation)
        }
    }
}
