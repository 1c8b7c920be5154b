import ArgumentParser
import Foundation
import SlimCore
import SlimOpenCL
import SlimParallel

/// `--devices all|0,2,…`: several OpenCL devices in one process, a replica of the
/// job on each (its own backend), splitting the work as ranks do (``ThreadCollective``).
struct DevicesOption: ParsableArguments {
    @Option(help: "OpenCL devices to split the work over, a replica on each: all, or indices as `slim devices` lists them (0,2). Default: the one device --backend picks.")
    var devices: String?

    /// The chosen devices, or nil without `--devices`.
    func selected() throws -> [OpenCLDevice]? {
        guard let devices else { return nil }
        let all = try OpenCLDevice.all()
        guard !all.isEmpty else { throw SlimError.noDevice("--devices \(devices): no OpenCL device found") }
        if devices == "all" { return all }
        let indices = devices.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !indices.isEmpty, indices.allSatisfy({ $0.map { all.indices.contains($0) } ?? false }), Set(indices).count == indices.count else {
            throw ValidationError("--devices \(devices): all, or distinct device indices in 0..<\(all.count) separated by commas")
        }
        return indices.map { all[$0!] }
    }
}

enum DeviceReplicas {
    /// Runs `body` once per device, each on its own thread with its own backend and rank, and
    /// returns device 0's result. A replica that fails abandons the group, so the others stop at
    /// their next exchange instead of waiting out the timeout; the first failure is thrown, naming its device.
    static func run<T: Sendable>(_ devices: [OpenCLDevice], _ body: @escaping @Sendable (any Backend, any Collective) throws -> T) throws -> T {
        guard Job.collective.size == 1 else {
            throw SlimError.unsupported(op: "--devices under mpirun", backend: "MPI", reason: "run one rank per device instead (each takes the GPU of its local rank)")
        }
        Job.devicesPerRank = devices.count
        let ranks = ThreadCollective.group(of: devices.count)
        let results = Results<T>(devices.count), done = DispatchGroup()
        for (rank, device) in zip(ranks, devices) {
            done.enter()
            Thread.detachNewThread {
                let result = Result { try body(try OpenCLBackend(device: device), rank) }
                if case .failure(let error) = result { rank.abandon(because: error) }
                results.set(rank.rank, result)
                done.leave()
            }
        }
        done.wait()
        if let first = ranks[0].failure {
            guard devices.count > 1 else { throw first.error }
            throw SlimError.collective(rank: first.rank, ranks: devices.count, step: "device \(first.rank) (\(devices[first.rank].name))",
                                       detail: "\(first.error)")
        }
        return try results.all[0].get()
    }

    private final class Results<T: Sendable>: @unchecked Sendable {
        private var values: [Result<T, any Error>?]
        private let lock = NSLock()
        init(_ n: Int) { values = Array(repeating: nil, count: n) }
        func set(_ i: Int, _ r: Result<T, any Error>) { lock.withLock { values[i] = r } }
        var all: [Result<T, any Error>] { lock.withLock { values.map { $0! } } }
    }
}

/// A value handed to the replicas' threads that each copies before use (a struct whose
/// existential fields the compiler cannot prove Sendable).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
