import ArgumentParser
import Foundation
import SlimConformance
import SlimCore
import SlimCPU
import SlimOpenCL

/// `slim selftest`: the conformance checks on the user's own device (as ggml's
/// `test-backend-ops`): every op and quantized format at odd shapes against
/// float64, one line per op with its worst NMSE and the bound, exit status 1
/// on any failure.
struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check every op on a device against float64 references (exit status 1 on any failure).")

    @Option(help: "The OpenCL device's index in `slim devices`, or cpu (default: the first GPU, else the first OpenCL device).")
    var device: String?
    @Option(help: "Force a shipped tuning row by name (\((try? DeviceTuning.named.map(\.name).joined(separator: ", ")) ?? "see Kernels/tuning.json")) or all; default: the row in force on the device (see slim devices).")
    var row: String?
    @Option(help: "Only these ops, comma-separated (\(ConformanceCatalogue.ops.joined(separator: ", "))).")
    var op: String?
    @Flag(help: "Small shapes only (for simulated devices such as Oclgrind).") var quick = false
    @Option(help: "Seed of the random inputs (printed; the same seed and options replay a run).") var seed: UInt64?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let checks = try selectedChecks()
        let seed = seed ?? UInt64.random(in: 1...UInt64.max)
        var reports: [[String: Any]] = [], allPassed = true
        for (label, backend) in try backends() {
            printError("selftest: \(label), \(checks.count) checks, seed \(seed) (--seed \(seed) replays)")
            let results = checks.map { $0.run(on: backend, seed: Self.checkSeed(seed, $0)) }
            let summary = OpSummary.of(results)
            allPassed = allPassed && summary.allSatisfy(\.passed)
            if json {
                reports.append(["backend": label, "ops": summary.map(\.record),
                                "failures": results.filter { !$0.passed }.map(Self.record)])
            } else {
                print("\(label)  (seed \(seed))")
                for s in summary { print("  " + s.line) }
                for r in results where !r.passed { print("    FAIL \(r.op) \(r.detail): " + (r.failure ?? "NMSE \(r.nmse) > \(r.tolerance)")) }
            }
        }
        if json { try printJSON(["seed": seed, "passed": allPassed, "runs": reports]) }
        if !allPassed { throw ExitCode(1) }
    }

    /// The catalogue, narrowed by `--op`; an unknown op name is an error, not an empty run.
    private func selectedChecks() throws -> [ConformanceCheck] {
        let all = ConformanceCatalogue.checks(quick: quick)
        guard let op else { return all }
        let wanted = op.split(separator: ",").map(String.init)
        if let unknown = wanted.first(where: { !ConformanceCatalogue.ops.contains($0) }) {
            throw ValidationError("--op \(unknown): no such op; ops: \(ConformanceCatalogue.ops.joined(separator: ", "))")
        }
        return all.filter { wanted.contains($0.op) }
    }

    /// The backend(s) to check: the CPU, or one OpenCL device under its own row, a named row or every row.
    private func backends() throws -> [(String, any Backend)] {
        if device == "cpu" {
            if row != nil { throw ValidationError("--row applies to OpenCL devices, not to --device cpu") }
            return [("cpu", CPUBackend())]
        }
        let chosen = try BackendSelection.openCLDevice(index: device, orElse: ", or use --device cpu")
        let rows: [(String, DeviceTuning)] = switch row {
        case nil: [("own row \(try DeviceTuning.lookup(chosen).name)", try DeviceTuning.lookup(chosen))]
        case "all": try DeviceTuning.named.map { ("row \($0.name)", $0.tuning) }
        case let name?: [("row \(name)", try DeviceTuning.row(named: name))]
        }
        return try rows.map { label, tuning in ("opencl \(chosen.summary), \(label)", try OpenCLBackend(device: chosen, tuning: tuning)) }
    }

    /// Each check's own seed, from the run's seed and the check's name, so a
    /// check replays alone (`--op`) with the inputs it had in the full run.
    static func checkSeed(_ seed: UInt64, _ check: ConformanceCheck) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for byte in (check.op + "/" + check.detail).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return seed ^ hash
    }

    static func record(_ r: ConformanceResult) -> [String: Any] {
        var out: [String: Any] = ["op": r.op, "case": r.detail, "tolerance": r.tolerance, "nmse": r.nmse.isNaN ? "nan" : r.nmse as Any]
        if let failure = r.failure { out["error"] = failure }
        return out
    }
}

/// One op's results: cases, failures, the worst NMSE (NaN counts as worst) and where.
struct OpSummary {
    let op: String, cases: Int, failed: Int, worst: ConformanceResult

    var passed: Bool { failed == 0 }

    static func of(_ results: [ConformanceResult]) -> [OpSummary] {
        var order: [String] = []
        for r in results where !order.contains(r.op) { order.append(r.op) }
        return order.map { op in
            let mine = results.filter { $0.op == op }
            let worst = mine.max { a, b in !(a.nmse.isNaN || a.failure != nil) && (b.nmse.isNaN || b.failure != nil || a.nmse < b.nmse) }!
            return OpSummary(op: op, cases: mine.count, failed: mine.filter { !$0.passed }.count, worst: worst)
        }
    }

    var line: String {
        let status = passed ? "OK  " : "FAIL"
        let error = worst.failure != nil ? "error" : worst.nmse.isNaN ? "nan" : String(format: "%.2e", worst.nmse)
        return "\(status) \(op.padding(toLength: 20, withPad: " ", startingAt: 0)) \(cases - failed)/\(cases) passed, "
            + "worst NMSE \(error) (bound \(String(format: "%.0e", worst.tolerance))) at \(worst.detail)"
    }

    var record: [String: Any] {
        ["op": op, "cases": cases, "failed": failed, "passed": passed, "worst_case": worst.detail,
         "worst_nmse": worst.nmse.isNaN ? "nan" : worst.nmse as Any, "tolerance": worst.tolerance]
    }
}
