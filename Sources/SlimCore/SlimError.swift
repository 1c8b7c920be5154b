/// Every failure Slim reports. Each case carries what failed, where, and why,
/// so that its ``description`` is a complete message for a user.
public enum SlimError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Operand shapes that do not fit the op.
    case shapeMismatch(op: String, detail: String)
    /// An operand of the wrong element type.
    case dtypeMismatch(op: String, detail: String)
    /// A tensor passed to a backend it does not live on.
    case wrongBackend(op: String, tensor: String, lives: String, expected: String)
    /// The backend does not implement the op (yet); the caller picks another backend.
    case unsupported(op: String, backend: String, reason: String)
    /// An argument outside its domain (a negative size, an unknown option).
    case invalidArgument(String)
    /// A backend name that is not `auto`, `cpu` or `opencl`.
    case unknownBackend(String)
    /// No OpenCL device could be found or opened.
    case noDevice(String)
    /// An OpenCL call returned an error status.
    case openCL(call: String, status: Int32, statusName: String, detail: String)
    /// A kernel program did not build; `log` is the compiler's build log.
    case kernelBuild(program: String, options: String, device: String, log: String)
    /// An allocation failed.
    case outOfMemory(what: String, bytes: Int, device: String)
    /// Reading or writing a file failed.
    case io(path: String, detail: String)
    /// A file whose contents are not what its format requires.
    case malformedFile(path: String, detail: String)
    /// A configuration value outside its domain; `key` is spelled as the file
    /// spells it (`layer_norm_eps`, `llama.block_count`).
    case invalidConfig(path: String, key: String, detail: String)
    /// NaN or ±∞ where Slim needs finite numbers: `tensor` names the values,
    /// `origin` the file or the step that read them.
    case nonFinite(tensor: String, origin: String, detail: String)
    /// A job of several ranks (MPI processes or simulated ones) that cannot go
    /// on: `rank` is the one that failed or disagreed, `step` what the job was doing.
    case collective(rank: Int, ranks: Int, step: String, detail: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, detail): "\(op): shape mismatch: \(detail)"
        case let .dtypeMismatch(op, detail): "\(op): wrong element type: \(detail)"
        case let .wrongBackend(op, tensor, lives, expected):
            "\(op): \(tensor) lives on \(lives), not on \(expected); copy it there first"
        case let .unsupported(op, backend, reason): "\(op) is not supported by the \(backend) backend: \(reason)"
        case let .invalidArgument(detail): "invalid argument: \(detail)"
        case let .unknownBackend(name): "unknown backend '\(name)': expected auto, opencl or cpu"
        case let .noDevice(detail): "no OpenCL device: \(detail)"
        case let .openCL(call, status, name, detail):
            "\(call) failed with \(name) (\(status))" + (detail.isEmpty ? "" : ": \(detail)")
        case let .kernelBuild(program, options, device, log):
            "kernel program \(program) failed to build for \(device) with options '\(options)':\n\(log)"
        case let .outOfMemory(what, bytes, device): "out of memory on \(device) allocating \(bytes) bytes for \(what)"
        case let .io(path, detail): "\(path): \(detail)"
        case let .malformedFile(path, detail): "\(path): malformed file: \(detail)"
        case let .invalidConfig(path, key, detail): "\(path): '\(key)' \(detail)"
        case let .nonFinite(tensor, origin, detail): "\(origin): '\(tensor)' holds \(detail)"
        case let .collective(rank, ranks, step, detail): "rank \(rank) of \(ranks), \(step): \(detail)"
        }
    }
}
