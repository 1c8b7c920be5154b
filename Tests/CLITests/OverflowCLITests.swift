import Foundation
import Testing

/// Issue 21, shape arithmetic: benchmark shapes whose element or byte counts
/// overflow, or that no machine could hold, are an error message and a
/// normal failing exit, never a trap (exit 132) or an abort (134).
@Suite(.serialized) struct OverflowCLI {
    static func expectCleanFailure(_ arguments: [String], mentions: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try slim(arguments + ["--backend", "cpu"])
        #expect(r.status != 0 && r.status < 128, "\(arguments): exit \(r.status)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(mentions), "\(arguments): \(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func benchShapesThatOverflowAreRefused() throws {
        try Self.expectCleanFailure(["bench", "gemm", "--shape", "99999999999x99999999999x9"], mentions: "overflow")
        try Self.expectCleanFailure(["bench", "qgemm", "--shape", "9x99999999999x99999999968"], mentions: "overflow")
        try Self.expectCleanFailure(["bench", "attention", "--seq", "99999999999", "--heads", "99999999", "--dim", "64"], mentions: "overflow")
    }

    @Test func benchShapesNoMachineHoldsAreRefused() throws {
        try Self.expectCleanFailure(["bench", "gemm", "--shape", "99999999999x9x9"], mentions: "memory")
        try Self.expectCleanFailure(["bench", "qgemm", "--shape", "1x999999968x999999968"], mentions: "memory")
        try Self.expectCleanFailure(["bench", "attention", "--seq", "99999999999"], mentions: "memory")
    }
}
