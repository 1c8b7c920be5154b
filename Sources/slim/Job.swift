import Foundation
import SlimCore
import SlimParallel

/// The ranks of this run of `slim`: one process (as always), or the MPI job
/// `mpirun`/`srun` started it in. Rank 0 alone prints and writes; the others
/// compute their share quietly (errors still print, naming the rank).
enum Job {
    /// Opened once, before the command runs (MPI_Init), in `Slim.main`.
    static let opened: Result<any Collective, any Error> = Result { try MPICollective.forThisProcess() }
    static var collective: any Collective { (try? opened.get()) ?? SingleProcess() }
    static var isRoot: Bool { collective.isRoot }

    /// What every rank must agree on before any work: the command line and, for each
    /// argument that names a file, its size and modification time (a stand-in for
    /// the model's hash that costs nothing on a 100 GB model).
    static func agreeOnCommand() throws {
        let c = collective
        guard c.size > 1 else { return }
        let files = CommandLine.arguments.dropFirst().map { arg -> String in
            guard let a = try? FileManager.default.attributesOfItem(atPath: arg) else { return arg }
            return "\(arg) \(a[.size] ?? "") \((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }
        try c.agree(on: files.joined(separator: "\u{0}"), what: "command line and input files")
    }

    /// Devices each rank drives (`--devices`); set once before the replicas start.
    nonisolated(unsafe) static var devicesPerRank = 1

    /// The fields every JSON report gains.
    static var reportFields: [String: Any] { ["ranks": collective.size, "devices": collective.size * devicesPerRank] }
}
