import ArgumentParser
import Foundation
import SlimCore
import SlimCPU
import SlimOpenCL

/// `--backend auto|opencl|cpu`, shared by every command; `SLIM_BACKEND` is the default.
struct BackendOption: ParsableArguments {
    @Option(name: .long, help: "auto, opencl or cpu (default: $SLIM_BACKEND, else auto: an OpenCL GPU if present, else the CPU).")
    var backend: String?
    /// Here because every command that loads a model takes `--backend`.
    @OptionGroup var nonFinite: NonFiniteOption

    /// Opens the chosen backend and says on stderr which one it is and why.
    func open() throws -> any Backend {
        let (backend, reason) = try BackendSelection.open(try BackendChoice.resolve(backend))
        printError("backend: \(backend.id) — \(reason)")
        return backend
    }
}

enum BackendSelection {
    /// What `auto` picks among the OpenCL devices present: the first GPU, or nothing.
    static func autoDevice(_ devices: [OpenCLDevice]) -> OpenCLDevice? { devices.first { $0.type == .gpu } }

    static func open(_ choice: BackendChoice) throws -> (any Backend, reason: String) {
        switch choice {
        case .cpu:
            return (CPUBackend(), "chosen")
        case .opencl:
            if let (device, reason) = try deviceOfThisRank(try OpenCLDevice.all()) { return (try OpenCLBackend(device: device), reason) }
            guard let device = try OpenCLBackend.preferredDevice() else {
                throw SlimError.noDevice("no OpenCL platform or device found (install an ICD such as pocl-opencl-icd)")
            }
            return (try OpenCLBackend(device: device), "chosen")
        case .auto:
            let devices = (try? OpenCLDevice.all()) ?? []
            if let (device, reason) = try deviceOfThisRank(devices) { return (try OpenCLBackend(device: device), "auto: " + reason) }
            if let gpu = autoDevice(devices) {
                return (try OpenCLBackend(device: gpu), "auto: OpenCL GPU found")
            }
            let seen = devices.isEmpty ? "no OpenCL device" : "no OpenCL GPU (only \(devices.map(\.summary).joined(separator: ", ")))"
            return (CPUBackend(), "auto: \(seen), so the CPU backend")
        }
    }

    /// Several ranks on one machine each take their own GPU: the rank's number among
    /// the ranks of its host (`OMPI_COMM_WORLD_LOCAL_RANK`, Slurm's `SLURM_LOCALID`) modulo
    /// the GPUs there, so `mpirun -np 8` on an 8-GPU server puts one rank on each. Nil
    /// with one rank or fewer than two GPUs (then the usual choice).
    static func deviceOfThisRank(_ devices: [OpenCLDevice]) throws -> (OpenCLDevice, String)? {
        let env = ProcessInfo.processInfo.environment
        guard Job.collective.size > 1,
              let local = (env["OMPI_COMM_WORLD_LOCAL_RANK"] ?? env["SLURM_LOCALID"]).flatMap(Int.init) else { return nil }
        let gpus = devices.filter { $0.type == .gpu }
        guard gpus.count > 1 else { return nil }
        return (gpus[local % gpus.count], "GPU \(local % gpus.count) of \(gpus.count), for local rank \(local)")
    }

    /// The OpenCL device numbered `index` in `slim devices`, or by default the
    /// first GPU, else the first device; `orElse` ends the error's advice.
    static func openCLDevice(index: String?, orElse: String = "") throws -> OpenCLDevice {
        let devices = try OpenCLDevice.all()
        if let index {
            guard let i = Int(index), devices.indices.contains(i) else {
                throw SlimError.noDevice("--device \(index): the OpenCL devices are 0..<\(devices.count) (see `slim devices`)\(orElse)")
            }
            return devices[i]
        }
        guard let preferred = try OpenCLBackend.preferredDevice() else {
            throw SlimError.noDevice("no OpenCL platform or device found (install an ICD such as pocl-opencl-icd)\(orElse)")
        }
        return preferred
    }

    /// Every backend named in a comma-separated list (`cpu,opencl`).
    static func openList(_ list: String?) throws -> [any Backend] {
        guard let list else { return [try BackendOption(backend: nil).open()] }
        return try list.split(separator: ",").map { name in
            let (b, reason) = try open(try BackendChoice(parsing: String(name)))
            printError("backend: \(b.id) — \(reason)")
            return b
        }
    }
}

extension BackendOption {
    init(backend: String?) { self.init(); self.backend = backend }
}

/// Information on stderr, from rank 0 only (errors go through `Slim.main`, from every rank).
func printError(_ text: String) {
    guard Job.isRoot else { return }
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Pretty, key-sorted JSON on stdout, from rank 0 only; an object gains `ranks` and `devices`.
func printJSON(_ value: Any) throws {
    guard Job.isRoot else { return }
    let data = try JSONOutput.data((value as? [String: Any]).map { $0.merging(Job.reportFields) { old, _ in old } } ?? value)
    print(String(decoding: data, as: UTF8.self))
}

extension ActivationPrecision {
    /// `--activations f32|int8-row|int8-block` (`int8` is `int8-row`).
    init(option: String) throws {
        switch option {
        case "f32": self = .f32
        case "int8", "int8-row": self = .int8PerRow
        case "int8-block": self = .int8PerBlock
        default: throw ValidationError("--activations \(option): use f32, int8-row or int8-block")
        }
    }
}
