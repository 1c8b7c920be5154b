import Foundation
import Testing

/// The command runner every CLI test goes through: no deadlock on large
/// output, and a command that hangs is killed and named instead of hanging the suite.
@Suite struct CommandRunnerTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")

    /// 1 MB on stdout, then 1 MB on stderr, each far more than a pipe buffer: read one
    /// after the other, the command would block on the second while the test waits on the first.
    @Test func largeOutputOnBothStreamsArrivesWhole() throws {
        let script = "head -c 1000000 /dev/zero | tr '\\000' o; head -c 1000000 /dev/zero | tr '\\000' e >&2; exit 3"
        let r = try run(Self.shell, ["-c", script], timeout: 120)
        #expect(r.status == 3)
        #expect(r.stdout.utf8.count == 1_000_000 && r.stdout.allSatisfy { $0 == "o" })
        #expect(r.stderr.utf8.count == 1_000_000 && r.stderr.allSatisfy { $0 == "e" })
    }

    @Test func aCommandPastItsTimeIsKilledAndNamed() {
        #expect {
            // `exec`: the shell becomes `sleep`, so the kill leaves no process behind.
            _ = try run(Self.shell, ["-c", "echo started >&2; exec sleep 600"], timeout: 1)
        } throws: { error in
            guard let e = error as? CommandTimedOut else { return false }
            return e.commandLine.contains("exec sleep 600") && e.stderr == "started\n"
        }
    }
}
