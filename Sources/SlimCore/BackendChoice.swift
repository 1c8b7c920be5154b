import Foundation

/// Which backend a command runs on: `--backend`, else `SLIM_BACKEND`, else `auto`
/// (an OpenCL GPU if there is one, else the CPU backend; the CLI reports its pick).
public enum BackendChoice: String, Sendable, CaseIterable {
    case auto, opencl, cpu

    public init(parsing text: String) throws(SlimError) {
        guard let choice = BackendChoice(rawValue: text.lowercased()) else { throw .unknownBackend(text) }
        self = choice
    }

    /// The choice given on the command line, else `SLIM_BACKEND`, else `auto`.
    public static func resolve(_ flag: String?) throws(SlimError) -> BackendChoice {
        if let flag { return try BackendChoice(parsing: flag) }
        if let env = ProcessInfo.processInfo.environment["SLIM_BACKEND"], !env.isEmpty {
            // Named, or a user who never typed the value looks for it on the command line.
            do { return try BackendChoice(parsing: env) } catch { throw .invalidArgument("the environment variable SLIM_BACKEND=\(env): \(error)") }
        }
        return .auto
    }
}
