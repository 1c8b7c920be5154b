import Foundation

/// Runs the built `slim` executable, which sits beside the test bundle, and
/// returns its exit status and output. Both pipes are read on their own
/// threads while the command runs (reading one to its end first deadlocks
/// once the command fills the other's buffer, 64 KiB on Linux); a command
/// that runs past `timeout` seconds is killed and the test fails naming it.
/// `directory`: the working folder; `asUser`: a user id to run as (root only, through setpriv).
func slim(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, asUser: UInt32? = nil,
          timeout: Double = CommandTimeout.seconds) throws -> (status: Int32, stdout: String, stderr: String) {
    guard let asUser else { return try run(slimExecutable, arguments, environment: environment, directory: directory, timeout: timeout) }
    return try run(URL(fileURLWithPath: "/usr/bin/setpriv"),
                   ["--reuid=\(asUser)", "--regid=\(asUser)", "--clear-groups", slimExecutable.path] + arguments,
                   environment: environment, directory: directory, timeout: timeout)
}

/// How long one `slim` command may run: `SLIM_CLI_TIMEOUT` seconds, default 600 (the slowest
/// command of these tests takes well under a minute in a debug build on 2 cores).
enum CommandTimeout {
    static var seconds: Double { ProcessInfo.processInfo.environment["SLIM_CLI_TIMEOUT"].flatMap(Double.init) ?? 600 }
}

var slimExecutable: URL {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let url = bundle.appendingPathComponent("slim")
    // On Linux the test binary lives in the build folder itself; under xctest on macOS one level deeper.
    if FileManager.default.fileExists(atPath: url.path) { return url }
    return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("slim")
}

struct CommandTimedOut: Error, CustomStringConvertible {
    let commandLine: String, seconds: Double, stderr: String
    var description: String { "killed after \(seconds) s (SLIM_CLI_TIMEOUT): \(commandLine)\nits stderr so far:\n\(stderr)" }
}

/// Runs `executable` with `arguments` (the test's environment plus `environment`); see ``slim(_:environment:timeout:)``.
func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil,
         timeout: Double) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    // Each pipe drained on its own thread until the command closes it.
    let stdout = PipeReader(out), stderr = PipeReader(err)
    if exited.wait(timeout: .now() + timeout) == .timedOut {
        // SIGKILL at once: a child inherits the test process's signal state, and SIGTERM was seen
        // to leave it running.
        kill(process.processIdentifier, SIGKILL)
        exited.wait()
        let commandLine = ([executable.path] + arguments).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        throw CommandTimedOut(commandLine: commandLine, seconds: timeout, stderr: stderr.text())
    }
    return (process.terminationStatus, stdout.text(), stderr.text())
}

/// Reads a pipe on a thread of its own until the writer closes it.
final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock(), done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while case let chunk = handle.availableData, !chunk.isEmpty {
                lock.withLock { data.append(chunk) }
            }
            done.signal()
        }
    }

    /// What the pipe carried. Its end comes when the command exits, unless a process the command
    /// started still holds the pipe: then what has arrived after 10 seconds.
    func text() -> String {
        if done.wait(timeout: .now() + 10) == .success { done.signal() }
        return lock.withLock { String(decoding: data, as: UTF8.self) }
    }
}
