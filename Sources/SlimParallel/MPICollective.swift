import CParallel
import Foundation
import SlimCore

/// The ranks of a job started by `mpirun`/`mpiexec` or Slurm's `srun`, through
/// Open MPI opened at run time (see `slim_mpi.c` for why dlopen). Each
/// collective is non-blocking and polled against ``CollectiveTimeout``: a rank
/// that died or went astray ends the job with an error naming the step, never a
/// hang (`MPI_Abort` takes every rank down, and mpirun reports it).
public final class MPICollective: Collective, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    let timeout: Double

    /// The largest count one MPI call takes (its counts are C ints); longer arrays go in pieces.
    static let piece = 1 << 28

    /// The job's collective: MPI's when a launcher started this process, else ``SingleProcess``.
    /// Started by a launcher but unable to open MPI is an error, never a silent single-process run.
    public static func forThisProcess() throws -> any Collective {
        guard slim_mpi_launched() != 0 else { return SingleProcess() }
        return try MPICollective()
    }

    /// The library opened: `SLIM_MPI_LIBRARY`, else Open MPI's `libmpi.so.40`.
    static var library: String { ProcessInfo.processInfo.environment["SLIM_MPI_LIBRARY"] ?? "libmpi.so.40" }

    init() throws {
        var r: Int32 = 0, s: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let status = slim_mpi_init(Self.library, &r, &s, &message, message.count)
        guard status == 0 else {
            let launcher = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].first { ProcessInfo.processInfo.environment[$0] != nil } ?? "?"
            throw SlimError.unsupported(op: "MPI", backend: "this machine",
                                        reason: "started by an MPI launcher (\(launcher) is set) but \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)); install Open MPI (scripts/setup.sh: libopenmpi-dev openmpi-bin) or set SLIM_MPI_LIBRARY to its libmpi.so")
        }
        (rank, size, timeout) = (Int(r), Int(s), CollectiveTimeout.seconds)
    }

    public func allReduceSum(_ values: [Int64], step: String) throws -> [Int64] {
        var v = values
        try v.withUnsafeMutableBufferPointer { p in
            for start in stride(from: 0, to: p.count, by: Self.piece) {
                let n = min(Self.piece, p.count - start)
                try check(slim_mpi_allreduce_i64(p.baseAddress! + start, Int32(n), timeout), step)
            }
        }
        return v
    }

    public func allGather(_ values: [Double], step: String) throws -> [[Double]] {
        precondition(values.count <= Self.piece, "allGather of \(values.count) values")
        var out = [Double](repeating: 0, count: values.count * size)
        try values.withUnsafeBufferPointer { v in
            try out.withUnsafeMutableBufferPointer { o in
                try check(slim_mpi_allgather_f64(v.baseAddress!, o.baseAddress!, Int32(values.count), timeout), step)
            }
        }
        return (0..<size).map { Array(out[$0 * values.count..<($0 + 1) * values.count]) }
    }

    /// A timeout or an MPI error ends the whole job: the message first (this rank's), then MPI_Abort.
    private func check(_ status: Int32, _ step: String) throws {
        guard status != 0 else { return }
        let error = SlimError.collective(rank: rank, ranks: size, step: step,
                                         detail: status == 1 ? "the other ranks did not join within \(timeout) s (SLIM_COLLECTIVE_TIMEOUT): one failed or is stuck; ending the job"
                                                             : "MPI reported an error; ending the job")
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        slim_mpi_abort(3)
        throw error
    }

    /// Ends MPI at the end of a job; every rank calls it.
    public static func finish(_ collective: any Collective) {
        if collective is MPICollective { slim_mpi_finalize() }
    }

    /// Ends every rank of the job after an error on this one (a rank that throws while others wait in a
    /// collective would otherwise leave them waiting until their timeout).
    public static func abort(_ collective: any Collective, code: Int32) -> Never {
        if collective is MPICollective { slim_mpi_abort(code) }
        exit(code)
    }
}
