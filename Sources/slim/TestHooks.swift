import Foundation

/// Failures the tests provoke on purpose. `SLIM_TEST_EXIT_RANK=R SLIM_TEST_EXIT_STEP=S`:
/// rank R ends its process after training step S, without a word to the other
/// ranks, as a crashed or killed rank would; the job must end with an error, not hang.
enum TestHooks {
    static func exitIfAsked(rank: Int, step: Int) {
        let env = ProcessInfo.processInfo.environment
        guard let r = env["SLIM_TEST_EXIT_RANK"].flatMap(Int.init), let s = env["SLIM_TEST_EXIT_STEP"].flatMap(Int.init),
              r == rank, s == step else { return }
        FileHandle.standardError.write(Data("rank \(rank): leaving at step \(step) (SLIM_TEST_EXIT_RANK)\n".utf8))
        exit(9)
    }
}
