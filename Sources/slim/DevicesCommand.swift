import ArgumentParser
import Foundation
import SlimCore
import SlimCPU
import SlimOpenCL

struct Devices: ParsableCommand, SplitsAcrossRanks {
    static let configuration = CommandConfiguration(
        abstract: "List the OpenCL platforms and devices and the CPU backend, marking what --backend auto picks.")

    @Flag(help: "Print JSON.") var json = false

    /// Under MPI every rank lists what it sees (its host's devices), one rank after the other; JSON comes
    /// from rank 0: its own listing, and under `ranks_devices` every rank's, gathered.
    func run() throws {
        let ranks = Job.collective
        guard ranks.size > 1 else { return try list() }
        if json {
            var mine = try listing()
            mine["rank"] = ranks.rank
            mine["host"] = ProcessInfo.processInfo.hostName
            let all = try ranks.allGatherBytes(Array(try JSONOutput.data(mine, options: [.sortedKeys])), step: "gathering every rank's devices")
            guard ranks.isRoot else { return }
            var report = try listing()
            report["ranks_devices"] = try all.map { try JSONSerialization.jsonObject(with: Data($0)) }
            return try printJSON(report)
        }
        for r in 0..<ranks.size {
            try ranks.barrier(step: "listing devices")
            guard r == ranks.rank else { continue }
            print("rank \(r) of \(ranks.size) on \(ProcessInfo.processInfo.hostName):")
            try list()
            fflush(nil)  // every output stream: stdout is a global Swift 6 will not touch
        }
        try ranks.barrier(step: "listing devices")
    }

    /// The OpenCL devices, the one auto picks, the CPU and its GEMM path, and a JSON entry for each.
    private func survey() throws -> (devices: [OpenCLDevice], autoPick: OpenCLDevice?, cpu: CPUInfo, gemm: GemmPath,
                                     entries: [[String: Any]]) {
        let devices = try OpenCLDevice.all()
        // The row in force per device: a tuned row from `slim tune`, else the shipped table's match.
        var rows: [String: (tuning: DeviceTuning, source: String)] = [:]
        for d in devices { rows[d.name] = try DeviceTuning.inForce(d) }
        let autoPick = BackendSelection.autoDevice(devices)
        let cpu = CPUInfo.current
        var entries: [[String: Any]] = devices.map { d in
            [
                "backend": "opencl", "platform": d.platformName, "name": d.name, "vendor": d.vendor, "type": d.type.rawValue,
                "compute_units": d.computeUnits, "clock_mhz": d.clockMHz, "global_memory_bytes": d.globalMemoryBytes,
                "max_allocation_bytes": d.maxAllocationBytes, "local_memory_bytes": d.localMemoryBytes,
                "max_work_group_size": d.maxWorkGroupSize, "opencl_c_version": d.openCLCVersion,
                "driver_version": d.driverVersion, "preferred_float_vector_width": d.preferredFloatVectorWidth,
                "peak_gflops": d.peakGFLOPS, "auto": d.name == autoPick?.name && d.platformName == autoPick?.platformName,
                "sub_group_width": d.subGroupWidth.map { $0 as Any } ?? NSNull(),
                "tuning": ["row": rows[d.name]!.tuning.name, "source": rows[d.name]!.source, "shapes": rows[d.name]!.tuning.jsonObject],
            ]
        }
        // An unknown SLIM_GEMM stops here with its error, as it would stop the first GEMM.
        let gemm = try GemmPath.current.get()
        var gemmEntry: [String: Any] = [
            "engine": gemm.engine.rawValue, "reason": gemm.reason, "cpu_level": gemm.cpuLevel.description,
        ]
        gemmEntry["blas_core"] = gemm.blasCore
        gemmEntry["blas_config"] = gemm.blasConfig
        gemmEntry["blas_level"] = gemm.blasLevel?.description
        gemmEntry["warning"] = gemm.warning
        entries.append([
            "backend": "cpu", "name": cpu.model, "cores": cpu.cores, "simd_width_floats": cpu.simdLanes, "kernel_isa": CPUBackend.ISA.best.description,
            "clock_mhz": Int(cpu.clockGHz * 1000), "peak_gflops": cpu.peakGFLOPS, "auto": autoPick == nil,
            "gemm": gemmEntry,
        ])
        return (devices, autoPick, cpu, gemm, entries)
    }

    /// What this process sees, as `--json` prints it.
    private func listing() throws -> [String: Any] {
        let s = try survey()
        return ["auto": s.autoPick.map { "opencl:\($0.name)" } ?? "cpu", "devices": s.entries]
    }

    private func list() throws {
        if json { return try printJSON(try listing()) }
        let (devices, autoPick, cpu, gemm, entries) = try survey()
        if devices.isEmpty { print("OpenCL: no platform or device found") }
        for d in devices {
            let mark = entries.first { ($0["name"] as? String) == d.name }?["auto"] as? Bool == true ? "  <- auto" : ""
            print("OpenCL  \(d.platformName) / \(d.name)\(mark)")
            print("        vendor \(d.vendor), type \(d.type.rawValue), \(d.computeUnits) compute units at \(d.clockMHz) MHz")
            print("        global memory \(mib(d.globalMemoryBytes)) (largest allocation \(mib(d.maxAllocationBytes))), local memory \(d.localMemoryBytes / 1024) KiB")
            print("        max work-group \(d.maxWorkGroupSize), \(d.openCLCVersion), driver \(d.driverVersion), float vector width \(d.preferredFloatVectorWidth)")
            print("        peak estimate \(Int(d.peakGFLOPS)) GFLOP/s fp32" + (d.subGroupWidth.map { ", sub-group width \($0)" } ?? ""))
            let row = try DeviceTuning.inForce(d)
            print("        tuning row \(row.tuning.name): \(row.source)")
            print("          \(row.tuning.summary)")
        }
        print("CPU     \(cpu.model)\(autoPick == nil ? "  <- auto" : "")")
        print("        C kernels: \(CPUBackend.ISA.best) (levels " + CPUBackend.ISA.allCases.filter { $0 <= .best }.map(\.description).joined(separator: ", ") + ")")
        print("        \(cpu.cores) cores, SIMD \(cpu.simdLanes) floats, \(Int(cpu.clockGHz * 1000)) MHz, peak \(Int(cpu.peakGFLOPS)) GFLOP/s fp32 measured (nominal \(Int(cpu.nominalPeakGFLOPS)))")
        print("        fp32 GEMM: \(gemm.engine == .own ? "Slim's own \(gemm.cpuLevel) tiles" : "BLAS")"
              + (gemm.blasConfig.map { "; BLAS \($0)" } ?? ""))
        print("        why: \(gemm.reason)")
        if let warning = gemm.warning { print("        warning: \(warning)") }
    }

    private func mib(_ bytes: Int) -> String { "\(bytes >> 20) MiB" }
}
