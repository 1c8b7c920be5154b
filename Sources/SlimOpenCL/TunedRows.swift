import Foundation
import SlimCore

/// The rows `slim tune` found, one file per device and driver under the
/// cache (`~/.cache/slim/tuning/`, or `SLIM_CACHE`): a new driver can change
/// which shapes are fast, so it gets a search of its own. Written through a
/// temporary file and a rename: a kill mid-write leaves the old row whole.
public enum TunedRows {
    public struct Entry {
        public let tuning: DeviceTuning
        public let date: String
        public let file: URL
    }

    /// The file of `device`'s tuned row: sha256 of platform, device and driver version.
    public static func file(for device: OpenCLDevice) throws -> URL {
        var hasher = SHA256()
        for part in [device.platformName, device.name, device.driverVersion] {
            hasher.update(part)
            hasher.update([0])
        }
        let key = hasher.finalize().prefix(12).map { String(format: "%02x", $0) }.joined()
        return try CacheDirectory.folder("tuning").appendingPathComponent("\(key).json")
    }

    /// The stored row for `device`, nil when `slim tune` never ran on it. A
    /// file that is there but unreadable is an error naming it (delete it or rerun `slim tune`).
    public static func load(_ device: OpenCLDevice) throws -> Entry? {
        let url = try file(for: device)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let what = "tuned row \(url.path) (delete it, or rerun slim tune)"
        let data = try withFileErrors("read", path: url.path) { try Data(contentsOf: url) }
        let top = try JSONFields(data, what: what)
        let fields = try top.object("row")
        let tuning = try DeviceTuning(fields)
        try fields.finish()
        let date = try top.string("date")
        for key in ["platform", "device", "driver"] {
            let expected = key == "platform" ? device.platformName : key == "device" ? device.name : device.driverVersion
            guard try top.string(key) == expected else {
                throw SlimError.invalidArgument("\(what): written for \(key) '\(try top.string(key))', not '\(expected)'")
            }
        }
        try top.finish(allowing: ["base_row", "seconds", "results"])
        return Entry(tuning: tuning, date: date, file: url)
    }

    /// Stores `tuning` as `device`'s row with what the search measured (`results`), replacing any older one.
    @discardableResult
    public static func store(_ tuning: DeviceTuning, for device: OpenCLDevice, baseRow: String, seconds: Double,
                             results: [[String: Any]]) throws -> URL {
        let url = try file(for: device)
        let date = ISO8601DateFormatter().string(from: Date())
        let record: [String: Any] = [
            "platform": device.platformName, "device": device.name, "driver": device.driverVersion, "date": date,
            "base_row": baseRow, "seconds": seconds, "results": results, "row": tuning.jsonObject,
        ]
        let data = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys])
        try writeAtomically(data, to: url)
        return url
    }
}
