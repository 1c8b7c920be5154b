import Foundation
import Testing

/// The C kernels' own harness (Tests/CKernels, scripts/check_c_kernels.sh):
/// every kernel at every instruction-set level against float64, natively and
/// compiled for aarch64 under qemu-user (with and without the dot-product
/// extension), so `swift test` alone covers the ARM64 NEON paths. A missing
/// cross compiler or qemu fails here, naming the apt packages that
/// scripts/setup.sh installs: an ARM path nobody ran is not a pass.
@Suite(.serialized) struct CKernelHarnessTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the script for `target`; returns its exit status and everything it printed.
    private func harness(_ target: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = Self.root.appendingPathComponent("scripts/check_c_kernels.sh")
        process.arguments = [target]
        process.currentDirectoryURL = Self.root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()  // until the script and its children close it
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// An x86-64 Linux host also runs the aarch64 build under qemu; an ARM64 host
    /// (a Mac, an ARM server) runs its NEON paths natively, and has no Debian cross tools.
    static let targets: [String] = {
        #if arch(x86_64) && os(Linux)
        ["native", "aarch64"]
        #else
        ["native"]
        #endif
    }()

    @Test(arguments: targets)
    func kernelsMatchFloat64(target: String) throws {
        let (status, output) = try harness(target)
        #expect(status == 0, "scripts/check_c_kernels.sh \(target) failed (status \(status)):\n\(output)")
        // Each run ends in its own count line: native one, aarch64 one per qemu CPU model.
        let counts = output.split(separator: "\n").filter { $0.hasSuffix(" 0 failed") }
        #expect(counts.count == (target == "native" ? 1 : 2), "expected a clean count line per run:\n\(output)")
        print(output)
    }
}
