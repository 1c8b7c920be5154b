import Foundation
import SlimCore

/// Failures the tests provoke on purpose. `SLIM_TEST_EXIT_RANK=R SLIM_TEST_EXIT_STEP=S`:
/// rank R ends its process after training step S, without a word to the other
/// ranks, as a crashed or killed rank would; the job must end with an error, not hang.
/// With `SLIM_TEST_STALL=1` it stops instead (sleeps an hour, as a rank stuck in a
/// driver would): the others' collective timeout must end the job. With `SLIM_TEST_FAIL=1`
/// it throws an error, as a replica whose device fails would: the other replicas must stop at once.
enum TestHooks {
    static func stopIfAsked(rank: Int, step: Int) throws {
        let env = ProcessInfo.processInfo.environment
        guard let r = env["SLIM_TEST_EXIT_RANK"].flatMap(Int.init), let s = env["SLIM_TEST_EXIT_STEP"].flatMap(Int.init),
              r == rank, s == step else { return }
        if env["SLIM_TEST_FAIL"] == "1" { throw SlimError.invalidArgument("rank \(rank) fails at step \(step) (SLIM_TEST_FAIL)") }
        let stall = env["SLIM_TEST_STALL"] == "1"
        FileHandle.standardError.write(Data("rank \(rank): \(stall ? "stalling" : "leaving") at step \(step) (SLIM_TEST_EXIT_RANK)\n".utf8))
        if stall { sleep(3600) }
        exit(9)
    }
}
