import Foundation
import SlimCore
import SlimCPU
import SlimOpenCL
import Testing

/// The backends the tests run on. The OpenCL half of a test never passes
/// without running: with `SLIM_REQUIRE_OPENCL=1` (CI) a missing device fails the
/// test; without it the test is cancelled (reported as skipped) with a note.
/// A device that is listed but does not open is a failure either way.
public enum TestBackends {
    public struct Unavailable: Error, CustomStringConvertible { public let description: String }

    public static var openCLRequired: Bool { ProcessInfo.processInfo.environment["SLIM_REQUIRE_OPENCL"] == "1" }

    /// Looked up once: the ICD loader's first `clGetPlatformIDs` is not safe from several
    /// threads at once (tests starting in parallel saw no device, or crashed in it).
    private static let preferredDevice = Result { try OpenCLBackend.preferredDevice() }

    /// A fresh OpenCL backend on the preferred device, or the end of the test
    /// (a failure when OpenCL is required, a visible skip otherwise).
    public static func openCL(sourceLocation: SourceLocation = #_sourceLocation) throws -> any Backend {
        if let device = try preferredDevice.get() { return try OpenCLBackend(device: device) }
        guard !openCLRequired else {
            throw Unavailable(description: "SLIM_REQUIRE_OPENCL=1 but no OpenCL device is present: the OpenCL half cannot run")
        }
        let note = "no OpenCL device: the OpenCL half of this test is skipped (SLIM_REQUIRE_OPENCL=1 makes that a failure)"
        // Cancelling one case of a parameterized test prints nothing by default: say it here too.
        FileHandle.standardError.write(Data("note: \(Test.current?.name ?? "a test"): \(note)\n".utf8))
        try Test.cancel(Comment(rawValue: note), sourceLocation: sourceLocation)
    }

    /// A backend by the name a parameterized test passes: "cpu" or "opencl".
    public static func named(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> any Backend {
        switch name {
        case "cpu": CPUBackend()
        case "opencl": try openCL(sourceLocation: sourceLocation)
        default: throw Unavailable(description: "no backend named '\(name)'")
        }
    }
}
