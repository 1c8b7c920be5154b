import Foundation
@testable import SlimModel
import SlimCore
import Testing
import TestSupport

/// The output policy and the staged writer in process: what the CLI tests
/// cannot reach (a writer that throws half-way, an unclaimed write, nested
/// claims, the leftover names).
@Suite struct OutputPolicyTests {
    static func scratch(_ name: String) throws -> URL {
        try Temporary.folder("output-policy-\(name)")
    }

    /// A folder as Slim writes one: files plus a card that marks it and lists them.
    static func writeSlimFolder(_ out: URL, weights: String, overwrite: Bool) throws {
        let claim = try OutputPolicy.claimFolder(out, inputs: [], overwrite: overwrite)
        defer { claim.release() }
        try StagedFolder.write(to: out) { staging in
            try Data(weights.utf8).write(to: staging.appendingPathComponent("model.safetensors"))
            try Data(#"{"slim_version": "test"}"#.utf8).write(to: staging.appendingPathComponent(OutputPolicy.cardFile))
        }
    }

    @Test func aWriterThatFailsHalfWayLeavesTheOldOutputAndNoStaging() throws {
        let base = try Self.scratch("fail")
        defer { try? FileManager.default.removeItem(at: base) }
        let out = base.appendingPathComponent("out")
        try Self.writeSlimFolder(out, weights: "old", overwrite: false)
        struct Boom: Error {}
        let claim = try OutputPolicy.claimFolder(out, inputs: [], overwrite: true)
        #expect(throws: Boom.self) {
            try StagedFolder.write(to: out) { staging in
                try Data("half".utf8).write(to: staging.appendingPathComponent("model.safetensors"))
                throw Boom()
            }
        }
        claim.release()
        #expect(FileManager.default.contents(atPath: out.appendingPathComponent("model.safetensors").path) == Data("old".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: base.path).sorted() == ["out"], "no staging folder or lock left")
    }

    @Test func anUnclaimedWriteIsRefusedAndWritesNothing() throws {
        let base = try Self.scratch("unclaimed")
        defer { try? FileManager.default.removeItem(at: base) }
        let out = base.appendingPathComponent("out")
        var filled = false
        #expect(throws: SlimError.self) { try StagedFolder.write(to: out) { _ in filled = true } }
        #expect(!filled && !FileManager.default.fileExists(atPath: out.path))
    }

    @Test func overwriteReplacesTheWholeFolderAndTheCardListsItsFiles() throws {
        let base = try Self.scratch("replace")
        defer { try? FileManager.default.removeItem(at: base) }
        let out = base.appendingPathComponent("out")
        try Self.writeSlimFolder(out, weights: "old", overwrite: false)
        #expect(throws: SlimError.self) { try Self.writeSlimFolder(out, weights: "new", overwrite: false) }
        try Self.writeSlimFolder(out, weights: "new", overwrite: true)
        #expect(FileManager.default.contents(atPath: out.appendingPathComponent("model.safetensors").path) == Data("new".utf8))
        let card = try #require(OutputPolicy.slimCard(out))
        #expect(card[OutputPolicy.cardFilesKey] as? [String] == ["model.safetensors", "model_card.json"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: base.path) == ["out"])
    }

    @Test func nestedClaimsShareTheLockAndReleaseIt() throws {
        let base = try Self.scratch("nested")
        defer { try? FileManager.default.removeItem(at: base) }
        let out = base.appendingPathComponent("out")
        let outer = try OutputPolicy.claimFolder(out, inputs: [], overwrite: false)
        let inner = try OutputPolicy.claimFolder(out, inputs: [], overwrite: false)
        inner.release()
        #expect(FileManager.default.fileExists(atPath: base.appendingPathComponent(".out.lock").path), "still held by the outer claim")
        outer.release()
        #expect(!FileManager.default.fileExists(atPath: base.appendingPathComponent(".out.lock").path))
        try OutputPolicy.claimFolder(out, inputs: [], overwrite: false).release()
    }

    @Test func pathsAreComparedAfterResolvingLinksAndDots() throws {
        let base = try Self.scratch("links")
        defer { try? FileManager.default.removeItem(at: base) }
        let model = base.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let link = base.appendingPathComponent("alias")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: model)
        for output in [link, link.appendingPathComponent("inner"), model.appendingPathComponent("../model"),
                       base.appendingPathComponent("alias/../model/x")] {
            #expect(throws: SlimError.self, "\(output.path)") { try OutputPolicy.claimFolder(output, inputs: [model], overwrite: true) }
        }
        #expect(OutputPolicy.canonical(link.appendingPathComponent("new")) == OutputPolicy.canonical(model).appendingPathComponent("new"))
        try OutputPolicy.claimFolder(base.appendingPathComponent("model2"), inputs: [model], overwrite: false).release()
    }

    @Test func leftoverNamesAreRecognisedAndNothingElse() {
        #expect(Leftovers.parse(".out.partial-123", output: "out")! == ("partial", 123))
        #expect(Leftovers.parse(".out.old-9", output: "out")! == ("old", 9))
        #expect(Leftovers.parse(".ckpt.safetensors.77.tmp", output: "ckpt.safetensors")! == ("tmp", 77))
        for other in [".out.lock", "out", ".out2.partial-1", ".out.partial-x", ".out.notes", ".other.old-5"] {
            #expect(Leftovers.parse(other, output: "out") == nil, "\(other)")
        }
    }
}
