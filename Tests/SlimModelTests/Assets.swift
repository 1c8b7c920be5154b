import Foundation
import SlimModel
import TestSupport

/// What the model tests read: the real models that `scripts/setup.sh` puts in
/// the cache (a test that needs a missing one fails and says to run it), and the
/// reference outputs kept in the repository under `Tests/Fixtures` (see its README).
enum TestAssets {
    static func require(_ url: URL?, _ what: String) throws -> URL {
        guard let url, FileManager.default.fileExists(atPath: url.path) else {
            struct Missing: Error, CustomStringConvertible { let description: String }
            throw Missing(description: "\(what) not found at \(url?.path ?? "?"): run scripts/setup.sh")
        }
        return url
    }
    static var miniLM: URL { get throws { try require(ModelAssets.miniLM, "all-MiniLM-L6-v2") } }
    static var smolLM2: URL { get throws { try require(ModelAssets.smolLM2GGUF, "SmolLM2 GGUF") } }

    /// `Tests/Fixtures/<name>`, found from this source file's own path.
    static func fixture(_ name: String, sourceFile: String = #filePath) throws -> URL {
        let fixtures = URL(fileURLWithPath: sourceFile).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures", isDirectory: true)
        let url = fixtures.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            struct Missing: Error, CustomStringConvertible { let description: String }
            throw Missing(description: "fixture \(name) not found at \(url.path): it is part of the repository")
        }
        return url
    }
    static var miniLMGolden: URL { get throws { try fixture("minilm-golden.json") } }
    static var smolLM2Golden: URL { get throws { try fixture("smollm2-golden.json") } }

    /// A MiniLM folder (links to the real files) whose `config.json` is edited by `edit`; the caller removes it.
    static func editedMiniLM(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        let source = try miniLM, dir = try Temporary.folder("edited-config")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "config.json" {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name))
        }
        let data = try Data(contentsOf: source.appendingPathComponent("config.json"))
        guard var config = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: source.appendingPathComponent("config.json").path])
        }
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }
}
