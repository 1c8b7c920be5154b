import Foundation
import SlimCore

/// Where the real models and data that `scripts/setup.sh` downloads live in
/// the cache folder, so tests, benchmarks and examples find them by name.
public enum ModelAssets {
    public static var miniLM: URL { CacheDirectory.root.appendingPathComponent("models/all-MiniLM-L6-v2", isDirectory: true) }
    public static var smolLM2GGUF: URL { CacheDirectory.root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf") }

    /// The golden outputs of the reference stacks, in `shared/reference` beside the project.
    public static func reference(_ name: String, from sourceFile: String = #filePath) -> URL? {
        var dir = URL(fileURLWithPath: sourceFile).deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("../shared/reference/\(name)").standardizedFileURL
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
