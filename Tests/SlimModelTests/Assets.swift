import Foundation
import SlimModel

/// The real assets the model tests need; a test that needs a missing one fails
/// and says to run `scripts/setup.sh` (CI always has them).
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
    static var miniLMGolden: URL { get throws { try require(ModelAssets.reference("minilm-golden.json"), "minilm-golden.json") } }
}
