import Foundation
import Testing
import TestSupport

/// Issue 21's data-loss cases, each run as a user would run it: the input, an
/// old output and unrelated files survive every `-o`, `--overwrite`,
/// `--checkpoint`, kill and concurrent run; leftovers of killed runs are
/// removed by the next run with a message.
@Suite(.serialized) struct OutputSafetyCLI {
    /// A tiny BERT (with a `1_Pooling` subfolder), a text file, and a scratch folder.
    static func workspace(_ name: String) throws -> (base: URL, model: URL, texts: URL) {
        let base = try Temporary.folder("output-\(name)")
        let model = base.appendingPathComponent("tiny"), texts = base.appendingPathComponent("texts.txt")
        try StructuredPruneCLI.tinyBERT(at: model, seed: TestSeed.current)
        let pooling = model.appendingPathComponent("1_Pooling")
        try FileManager.default.createDirectory(at: pooling, withIntermediateDirectories: true)
        try Data(#"{"pooling_mode_mean_tokens": true}"#.utf8).write(to: pooling.appendingPathComponent("config.json"))
        let words = StructuredPruneCLI.words.dropFirst(5)
        try (0..<12).map { i in words.dropFirst(i).prefix(6).joined(separator: " ") }.joined(separator: "\n")
            .write(to: texts, atomically: true, encoding: .utf8)
        return (base, model, texts)
    }

    /// Every file under `folder` with its bytes: what must not change.
    static func snapshot(_ folder: URL) -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: folder.path) else { return out }
        for case let path as String in walker {
            var isFolder: ObjCBool = false
            let full = folder.appendingPathComponent(path).path
            if fm.fileExists(atPath: full, isDirectory: &isFolder), !isFolder.boolValue { out[path] = fm.contents(atPath: full) }
        }
        return out
    }

    static func compress(_ model: URL, _ output: String, _ extra: [String] = [], environment: [String: String] = [:],
                         directory: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try slim(["compress", model.path, "-o", output, "--quant", "int8", "--backend", "cpu"] + extra,
                 environment: environment, directory: directory)
    }

    /// Hidden entries beside `output` that a run left (staging, moved-aside, temporary files, locks).
    static func leftovers(beside output: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: output.deletingLastPathComponent().path)) ?? []
        return names.filter { $0.hasPrefix(".\(output.lastPathComponent).") }.sorted()
    }

    @Test(.seeded) func anOutputThatIsContainsOrIsInsideTheInputIsRefusedEvenWithOverwrite() throws {
        let w = try Self.workspace("inputs")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let unrelated = w.base.appendingPathComponent("notes.txt")
        try Data("keep me".utf8).write(to: unrelated)
        let before = Self.snapshot(w.base)
        let cases: [(output: String, directory: URL?, says: String)] = [
            (w.model.path, nil, "is the input"),
            (w.model.path + "/", nil, "is the input"),
            (w.base.path, nil, "contains the input"),
            (w.model.appendingPathComponent("sub").path, nil, "is inside the input"),
            (".", w.base, "name a new folder"),
            ("..", w.model, "name a new folder"),
            ("", w.base, "name a new folder"),
            ("tiny/..", w.base, "name a new folder"),
            (w.texts.path, nil, "is the input"),  // the calibration text, with --method gptq below
        ]
        for c in cases {
            let r = try Self.compress(w.model, c.output, ["--overwrite", "--method", "gptq", "--calib", w.texts.path, "--samples", "4"],
                                      directory: c.directory)
            #expect(r.status != 0 && r.stderr.contains(c.says), "-o '\(c.output)': \(r.stderr)")
        }
        // A link to the input is the input.
        let link = w.base.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: w.model)
        let linked = try Self.compress(w.model, link.path, ["--overwrite"])
        #expect(linked.status != 0 && linked.stderr.contains("is the input"), "\(linked.stderr)")
        try FileManager.default.removeItem(at: link)
        #expect(Self.snapshot(w.base) == before, "the input or an unrelated file changed")
    }

    @Test(.seeded) func prunedLowRankDistilledAndFinetunedOutputsFollowTheSameRules() throws {
        let w = try Self.workspace("commands")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let before = Self.snapshot(w.base)
        let commands: [[String]] = [
            ["prune", w.model.path, "--pattern", "2:4", "--method", "magnitude"],
            ["lowrank", w.model.path, "--keep", "0.5"],
            ["distill", "--teacher", w.model.path, "--student-layers", "1", "--data", w.texts.path, "--steps", "1", "--batch", "2", "--seq", "8"],
            ["finetune", w.model.path, "--teacher", w.model.path, "--quant", "int8", "--data", w.texts.path, "--steps", "1", "--batch", "2", "--seq", "8"],
        ]
        for command in commands {
            for output in [w.model.path, w.base.path] {
                let r = try slim(command + ["-o", output, "--overwrite"] + (command[0] == "lowrank" ? [] : ["--backend", "cpu"]))
                #expect(r.status != 0 && r.stderr.contains("the input"), "\(command[0]) -o \(output): \(r.stderr)")
            }
        }
        #expect(Self.snapshot(w.base) == before)
    }

    @Test(.seeded) func aFolderOrFileSlimDidNotWriteIsNeverReplaced() throws {
        let w = try Self.workspace("foreign")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let foreign = w.base.appendingPathComponent("photos"), file = w.base.appendingPathComponent("report.pdf")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("a photo".utf8).write(to: foreign.appendingPathComponent("cat.jpg"))
        try Data("a report".utf8).write(to: file)
        let before = Self.snapshot(w.base)
        for (output, says) in [(foreign, "Slim did not write"), (file, "is a file")] {
            for extra in [[], ["--overwrite"]] {
                let r = try Self.compress(w.model, output.path, extra)
                #expect(r.status != 0 && r.stderr.contains(says), "-o \(output.lastPathComponent) \(extra): \(r.stderr)")
            }
        }
        // Slim's own folder with a file the user added: the user's file is not Slim's to delete.
        let out = w.base.appendingPathComponent("out")
        #expect(try Self.compress(w.model, out.path).status == 0)
        let fresh = try Self.compress(w.model, out.path)
        #expect(fresh.status != 0 && fresh.stderr.contains("pass --overwrite"), "\(fresh.stderr)")
        try Data("my notes".utf8).write(to: out.appendingPathComponent("notes.txt"))
        let added = try Self.compress(w.model, out.path, ["--overwrite"])
        #expect(added.status != 0 && added.stderr.contains("notes.txt"), "\(added.stderr)")
        #expect(FileManager.default.contents(atPath: out.appendingPathComponent("notes.txt").path) == Data("my notes".utf8))
        #expect(Self.snapshot(w.base).filter { !$0.key.hasPrefix("out/") } == before)
        // An empty folder is fine without --overwrite.
        let empty = w.base.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let r = try Self.compress(w.model, empty.path)
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// --overwrite swaps the new folder in: a kill at each step of the replace
    /// leaves the old or the new folder complete at the output, and the next
    /// run removes (or puts back) what the killed one left, saying so.
    @Test(.seeded, arguments: [("staged", false, "old"), ("swapped", false, "new"), ("staged", true, "old"), ("moved-aside", true, "old")])
    func aKillDuringOverwriteLeavesACompleteOutput(point: String, fallback: Bool, expected: String) throws {
        let w = try Self.workspace("kill-\(point)-\(fallback)")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let out = w.base.appendingPathComponent("out")
        #expect(try Self.compress(w.model, out.path).status == 0)
        let old = Self.snapshot(out)
        var environment = ["SLIM_FAULT_AT": point]
        if fallback { environment["SLIM_TEST_NO_SWAP"] = "1" }
        let killed = try Self.compress(w.model, out.path, ["--overwrite", "--quant", "int4-g32"], environment: environment)
        #expect(killed.status != 0, "the run was killed at \(point)")
        let afterKill = Self.snapshot(out)
        if point == "moved-aside" {
            // Between the fallback's two renames the old folder is complete under its hidden name.
            #expect(afterKill.isEmpty)
            let aside = try #require(Self.leftovers(beside: out).first { $0.contains(".old-") })
            #expect(Self.snapshot(w.base.appendingPathComponent(aside)) == old)
        } else if expected == "old" {
            #expect(afterKill == old, "the old output is intact")
        } else {
            #expect(afterKill != old && afterKill["model_card.json"] != nil && afterKill.count == old.count,
                    "the complete new output is in place")
        }
        #expect(!Self.leftovers(beside: out).isEmpty, "a killed run leaves a recognisable leftover")
        // The next run tidies with a message; read-only commands see a complete folder.
        let next = try slim(["embed", out.path, "one two three", "--backend", "cpu"])
        if point != "moved-aside" { #expect(next.status == 0, "\(next.stderr)") }
        let again = try Self.compress(w.model, out.path, ["--overwrite"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("removed") || again.stderr.contains("restored"), "the tidy-up is reported: \(again.stderr)")
        #expect(Self.leftovers(beside: out).isEmpty, "left: \(Self.leftovers(beside: out))")
        let final = Self.snapshot(out)
        #expect(Set(final.keys) == Set(old.keys) && final["model.safetensors"] == old["model.safetensors"],
                "int8 again: the same files and weights as the first int8 run")
    }

    /// A second writer of the same output fails at once, naming the first;
    /// the first, killed, leaves a staging folder that the next run removes.
    @Test(.seeded) func aConcurrentWriterFailsFastAndNamesTheHolder() throws {
        let w = try Self.workspace("concurrent")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let out = w.base.appendingPathComponent("out")
        let first = Process()
        first.executableURL = slimExecutable
        first.arguments = ["compress", w.model.path, "-o", out.path, "--quant", "int8", "--backend", "cpu"]
        first.environment = ProcessInfo.processInfo.environment.merging(["SLIM_FAULT_AT": "stall:staged"]) { $1 }
        first.standardError = FileHandle.nullDevice
        first.standardOutput = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        // The first run holds the lock from its start; wait until it has staged its folder.
        let deadline = Date().addingTimeInterval(120)
        while !Self.leftovers(beside: out).contains(where: { $0.contains(".partial-") }) && Date() < deadline { usleep(50_000) }
        #expect(first.isRunning)
        let second = try Self.compress(w.model, out.path, ["--overwrite"])
        #expect(second.status != 0 && second.stderr.contains("another slim process (pid \(first.processIdentifier))"), "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path), "the second run wrote nothing")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let third = try Self.compress(w.model, out.path)
        #expect(third.status == 0 && third.stderr.contains("removed") && third.stderr.contains(".partial-"), "\(third.stderr)")
        #expect(Self.leftovers(beside: out).isEmpty)
    }

    @Test(.seeded) func aCheckpointIsNeverWrittenOverAFileThatIsNotThisRunsCheckpoint() throws {
        let w = try Self.workspace("checkpoint")
        defer { try? FileManager.default.removeItem(at: w.base) }
        func distill(_ output: String, _ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try slim(["distill", "--teacher", w.model.path, "--student-layers", "1", "--data", w.texts.path, "--steps", "4",
                      "--batch", "2", "--seq", "8", "--checkpoint-every", "2", "-o", w.base.appendingPathComponent(output).path,
                      "--backend", "cpu"] + extra)
        }
        let before = Self.snapshot(w.base)
        // The teacher's weights and an unrelated text file: refused, untouched.
        let teacherWeights = try distill("a", ["--checkpoint", w.model.appendingPathComponent("model.safetensors").path, "--overwrite"])
        #expect(teacherWeights.status != 0 && teacherWeights.stderr.contains("inside the input"), "\(teacherWeights.stderr)")
        let notes = w.base.appendingPathComponent("notes.txt")
        try Data("keep me".utf8).write(to: notes)
        let text = try distill("a", ["--checkpoint", notes.path, "--overwrite"])
        #expect(text.status != 0 && text.stderr.contains("not a Slim checkpoint"), "\(text.stderr)")
        #expect(FileManager.default.contents(atPath: notes.path) == Data("keep me".utf8))
        try FileManager.default.removeItem(at: notes)
        #expect(Self.snapshot(w.base) == before)
        // Inside the output folder (replaced when the model is written): refused.
        let inside = try distill("a", ["--checkpoint", w.base.appendingPathComponent("a/ckpt.safetensors").path])
        #expect(inside.status != 0 && inside.stderr.contains("inside the output folder"), "\(inside.stderr)")

        // A run stopped at step 2; rerunning without --resume must not replace its checkpoint with an earlier step.
        let checkpoint = w.base.appendingPathComponent("b.checkpoint.safetensors")
        #expect(try distill("b", ["--stop-after", "2"]).status == 0)
        let saved = try #require(FileManager.default.contents(atPath: checkpoint.path))
        let again = try distill("b", [])
        #expect(again.status != 0 && again.stderr.contains("--resume") && again.stderr.contains("--overwrite"), "\(again.stderr)")
        #expect(FileManager.default.contents(atPath: checkpoint.path) == saved)
        // Another configuration's checkpoint is not replaced, even with --overwrite.
        let other = try distill("b", ["--overwrite", "--seq", "10"])
        #expect(other.status != 0 && other.stderr.contains("another run") && other.stderr.contains("seq"), "\(other.stderr)")
        #expect(FileManager.default.contents(atPath: checkpoint.path) == saved)
        // A leftover temporary checkpoint of a killed run is removed with a message; --resume finishes.
        let stale = w.base.appendingPathComponent(".b.checkpoint.safetensors.2147483646.tmp")
        try Data(count: 1000).write(to: stale)
        let resumed = try distill("b", ["--resume"])
        #expect(resumed.status == 0 && resumed.stderr.contains("removed") && resumed.stderr.contains(stale.lastPathComponent), "\(resumed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        // Starting over is what --overwrite is for.
        let restart = try distill("c", ["--stop-after", "2"])
        #expect(restart.status == 0)
        #expect(try distill("c", ["--overwrite"]).status == 0)
    }

    /// A non-root user compressing a readable model owned by root: the copies of
    /// the companion files (with a subfolder) are the user's own.
    @Test(.seeded) func companionFilesAreCopiedWithoutTheirOwnership() throws {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/usr/bin/setpriv") else {
            // Only root can run a command as another user; the copy code is the same for everyone.
            print("note: companionFilesAreCopiedWithoutTheirOwnership needs root and setpriv: not run")
            return
        }
        let w = try Self.workspace("owner")
        defer { try? FileManager.default.removeItem(at: w.base) }
        let outside = w.base.appendingPathComponent("nobody")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: outside.path)
        for folder in [w.base, w.model, w.model.appendingPathComponent("1_Pooling")] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        }
        var probe = w.base.deletingLastPathComponent()
        while probe.path != "/" {  // the temporary folder must be reachable for the other user
            if let p = try? FileManager.default.attributesOfItem(atPath: probe.path)[.posixPermissions] as? Int, p & 0o001 == 0 {
                print("note: \(probe.path) is not searchable by others: ownership test not run"); return
            }
            probe = probe.deletingLastPathComponent()
        }
        let out = outside.appendingPathComponent("out")
        let r = try slim(["compress", w.model.path, "-o", out.path, "--quant", "int8", "--backend", "cpu"],
                         environment: ["SLIM_CACHE": outside.appendingPathComponent("cache").path],
                         asUser: 65534)
        #expect(r.status == 0, "\(r.stderr)")
        let owner = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("1_Pooling/config.json").path)[.ownerAccountID] as? Int
        #expect(owner == 65534)
    }
}
