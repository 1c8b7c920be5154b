import Foundation
import Testing
import TestSupport

/// `slim tune` (issue #18): a short search on the OpenCL device stores a row
/// per device and driver; the next run uses it and `slim devices` says so;
/// a damaged stored row is an error naming its file, not a silent fallback.
@Suite(.serialized) struct TuneCLITests {
    @Test func tuneStoresARowThatLaterRunsUse() throws {
        try OpenCLHalf.require()
        let cache = try Temporary.folder("tune-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let env = ["SLIM_CACHE": cache.path]
        let before = try devicesJSON(env)
        #expect((before["source"] as? String)?.hasPrefix("shipped row") == true, "\(before)")

        // One second per op: the shipped row's baseline always runs, so each op has a winner.
        let tune = try slim(["tune", "--seconds", "3", "--runs", "1", "--seed", "7", "--json"], environment: env)
        #expect(tune.status == 0, "\(tune.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(tune.stdout.utf8)) as? [String: Any])
        let ops = try #require(json["ops"] as? [[String: Any]])
        #expect(ops.map { $0["op"] as? String } == ["gemm", "qgemv", "attention"])
        for op in ops {
            let winner = try #require(op["winner_ms"] as? Double), shipped = try #require(op["shipped_ms"] as? Double)
            #expect(winner <= shipped, "the winner is the fastest of what was measured, the shipped row included: \(op)")
            let candidates = try #require(op["candidates"] as? [[String: Any]])
            #expect(candidates.first?["baseline"] as? Bool == true && candidates.first?["passed"] as? Bool == true)
        }
        let file = try #require(json["file"] as? String)
        #expect(file.hasPrefix(cache.path) && FileManager.default.fileExists(atPath: file))

        let after = try devicesJSON(env)
        #expect((after["source"] as? String)?.contains("tuned by `slim tune`") == true, "\(after)")
        #expect((after["row"] as? String)?.hasPrefix("tuned from") == true)
        #expect(NSDictionary(dictionary: after["shapes"] as? [String: Any] ?? [:]).isEqual(to: json["row"] as? [String: Any] ?? ["": 0]))
        let shipped = try devicesJSON(env.merging(["SLIM_TUNING": "shipped"]) { $1 })
        #expect((shipped["source"] as? String)?.hasPrefix("shipped row") == true)

        // A damaged file is named, with what to do.
        try Data("{\"row\": {}}".utf8).write(to: URL(fileURLWithPath: file))
        let broken = try slim(["devices"], environment: env)
        #expect(broken.status != 0 && broken.stderr.contains(file) && broken.stderr.contains("rerun slim tune"), "\(broken.stderr)")
    }

    @Test func badOptionsAreRefused() throws {
        let op = try slim(["tune", "--op", "conv"])
        #expect(op.status != 0 && op.stderr.contains("--op conv"), "\(op.stderr)")
        let seconds = try slim(["tune", "--seconds", "0"])
        #expect(seconds.status != 0 && seconds.stderr.contains("--seconds"), "\(seconds.stderr)")
    }

    /// The OpenCL device's "tuning" record in `slim devices --json`.
    private func devicesJSON(_ env: [String: String]) throws -> [String: Any] {
        let r = try slim(["devices", "--json"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let device = try #require((json["devices"] as? [[String: Any]])?.first { $0["backend"] as? String == "opencl" })
        return try #require(device["tuning"] as? [String: Any])
    }
}
