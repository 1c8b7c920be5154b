import Foundation
import Testing

/// The seed of a randomized test. A test marked `@Test(.seeded)` draws its
/// numbers from `TestSeed.current`: `SLIM_TEST_SEED` when set (to replay a
/// failure), otherwise a fresh seed each run, so every run tries new cases.
/// The trait prints the seed and adds "replay with SLIM_TEST_SEED=n" to every
/// issue the test records, so a failure says how to reproduce it.
public struct TestSeed: TestTrait, TestScoping {
    @TaskLocal private static var bound: UInt64?

    /// The running test's seed; derive further streams as `current &+ k`.
    public static var current: UInt64 { bound ?? unmarked }

    /// The seed of a helper reached from a test not marked `.seeded`: one per
    /// process, printed once, replayed by the same `SLIM_TEST_SEED` (a crash
    /// here would end the whole test run, not just the one test).
    private static let unmarked: UInt64 = {
        let seed = (try? choose()) ?? 0
        print("note: tests not marked @Test(.seeded) draw from seed \(seed) (replay with SLIM_TEST_SEED=\(seed))")
        return seed
    }()

    public struct BadSeed: Error, CustomStringConvertible { public let description: String }

    public static func choose() throws -> UInt64 {
        guard let text = ProcessInfo.processInfo.environment["SLIM_TEST_SEED"], !text.isEmpty else {
            return UInt64.random(in: 0...UInt64.max)
        }
        guard let seed = UInt64(text) else { throw BadSeed(description: "SLIM_TEST_SEED=\(text) is not a UInt64") }
        return seed
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let seed = try Self.choose(), replay = "replay with SLIM_TEST_SEED=\(seed)"
        print("\(test.name): seed \(seed) (\(replay))")
        try await Self.$bound.withValue(seed) {
            try await IssueHandlingTrait.compactMapIssues { issue in
                var issue = issue
                issue.comments.append(Comment(rawValue: replay))
                return issue
            }.provideScope(for: test, testCase: testCase, performing: function)
        }
    }
}

extension Trait where Self == TestSeed {
    /// Draws the test's seed; see ``TestSeed``.
    public static var seeded: Self { TestSeed() }
}
