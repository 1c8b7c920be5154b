import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// TensorFile.release: a checkpoint read tensor by tensor, each released
/// after use, keeps about one tensor of it resident, whatever its size.
@Suite struct TensorReleaseTests {
    /// Resident kB of the mappings of `path` in this process, from /proc/self/smaps.
    /// Per mapping rather than /proc/self/statm's totals: other tests run in
    /// parallel in this process and allocate and map files of their own.
    static func residentKB(of path: String) throws -> Int {
        // /proc files report a size of 0: read to the end rather than trust it.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        #expect(smaps.contains("Rss:"), "/proc/self/smaps reads")
        var inFile = false, total = 0
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5, first.first?.isHexDigit == true {
                inFile = fields.count >= 6 && fields[5...].joined(separator: " ") == path
            } else if inFile, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                total += kb
            }
        }
        return total
    }

    /// 192 MB in 48 tensors of 4 MB, read (and checksummed) one by one: with
    /// release the mapping's resident set stays under two tensors; without, it
    /// holds nearly the whole file (the control that shows what is measured).
    @Test(.seeded) func releaseKeepsAboutOneTensorResident() throws {
        let folder = try Temporary.folder("release")
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = SplitMix64(seed: TestSeed.current)
        let tensorBytes = 4 << 20, count = 48
        let writer = try CheckpointWriter(folder: folder)
        for i in 0..<count {
            // Random bytes, so no page is shared zeros; the checksum reads every one.
            let words = (0..<tensorBytes / 8).map { _ in rng.next() }
            try writer.append(.init(name: "t\(i)", kind: .u8, shape: [tensorBytes], data: words.withUnsafeBytes { Data($0) }))
        }
        _ = try writer.finish()
        let path = folder.appendingPathComponent("model.safetensors").path
        for release in [true, false] {
            let file = try HuggingFaceCheckpoint.open(folder: folder)
            var peak = 0
            for t in file.tensors {
                _ = try file.bytes(of: t)  // verified: every byte read
                peak = max(peak, try Self.residentKB(of: path))
                if release { file.release(t) }
            }
            let end = try Self.residentKB(of: path)
            print("release \(release): peak \(peak) kB, at the end \(end) kB resident of a \(count * tensorBytes / 1024) kB file")
            if release {
                #expect(peak <= 2 * tensorBytes / 1024, "peak \(peak) kB")
                // What may stay: the page each tensor shares with its neighbour, and the pages the kernel maps
                // around a fault (fault_around_bytes, 64 kB), up to 64 kB per tensor: under 2 % of the file.
                #expect(end <= count * 64 + 64, "\(end) kB stay resident")
            } else {
                #expect(end >= count * tensorBytes / 1024 * 3 / 4, "without release the file stays resident: \(end) kB")
            }
        }
    }
}
