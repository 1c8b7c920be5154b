import Foundation
import Testing

/// The OpenCL half of a CLI test never passes without running. With
/// `SLIM_REQUIRE_OPENCL=1` (CI) it always runs, so a missing device fails the
/// `slim` command and the test; without it, it runs when `slim devices` lists
/// an OpenCL device, and otherwise the test is cancelled (reported as skipped)
/// with a note, after its CPU half.
enum OpenCLHalf {
    static var required: Bool { ProcessInfo.processInfo.environment["SLIM_REQUIRE_OPENCL"] == "1" }

    /// Asked once per test run.
    private static let present: Bool = {
        guard let r = try? slim(["devices", "--json"]), r.status == 0,
              let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let devices = json["devices"] as? [[String: Any]] else { return false }
        return devices.contains { $0["backend"] as? String == "opencl" }
    }()

    /// Returns if the OpenCL half is to run; otherwise ends the test as skipped.
    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws {
        if required || present { return }
        let note = "no OpenCL device: the OpenCL half of this test is skipped (SLIM_REQUIRE_OPENCL=1 makes that a failure)"
        FileHandle.standardError.write(Data("note: \(Test.current?.name ?? "a test"): \(note)\n".utf8))
        try Test.cancel(Comment(rawValue: note), sourceLocation: sourceLocation)
    }
}
