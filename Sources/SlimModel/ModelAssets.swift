import Foundation
import SlimCore

/// Where the real models and data that `scripts/setup.sh` downloads live in
/// the cache folder, so tests, benchmarks and examples find them by name.
public enum ModelAssets {
    public static var miniLM: URL { CacheDirectory.root.appendingPathComponent("models/all-MiniLM-L6-v2", isDirectory: true) }
    public static var smolLM2GGUF: URL { CacheDirectory.root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf") }
}
