import Foundation
import SlimCore
import SlimModel

/// Calibration data and the statistics methods like GPTQ need from it.
public enum Calibration {
    /// The fortunes text of the asset cache (Debian's fortunes-min), Slim's default calibration data.
    public static var defaultFile: URL { CacheDirectory.root.appendingPathComponent("data/fortunes/wisdom") }

    /// Up to `count` texts from `file`: fortune entries (separated by `%` lines) or, without them, non-empty lines.
    public static func samples(from file: URL, count: Int) throws -> [String] {
        let text = try TextInput.decodeUTF8(try FileReading.data(atPath: file.path), origin: file.path)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var entries: [String] = []
        if lines.contains("%") {
            var current: [String] = []
            for line in lines + ["%"] {
                if line == "%" {
                    let entry = current.joined(separator: " ").trimmingCharacters(in: .whitespaces)
                    if !entry.isEmpty { entries.append(entry) }
                    current = []
                } else {
                    current.append(line.trimmingCharacters(in: .whitespaces))
                }
            }
        } else {
            entries = lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        guard !entries.isEmpty else { throw SlimError.malformedFile(path: file.path, detail: "no calibration text in the file") }
        return Array(entries.prefix(max(1, count)))
    }

    /// H = 2·XᵀX of every linear layer's inputs over `texts`, run one at a time
    /// (no padding rows). Q, K and V share their input, and so one Hessian.
    public static func hessians(_ embedder: SentenceEmbedder, texts: [String],
                                progress: ((Int, Int) -> Void)? = nil) throws -> [String: [Double]] {
        // K and V reuse Q's input.
        let collector = HessianCollector(backend: embedder.encoder.backend) { sharedInput($0) == $0 ? $0 : nil }
        for (index, text) in texts.enumerated() {
            let batch = EncoderBatch(sequences: [embedder.tokenizer.encode(text)], padID: embedder.tokenizer.padID)
            _ = try embedder.encoder.hiddenStates(batch, observer: collector.observe)
            progress?(index + 1, texts.count)
        }
        return try collector.hessians()
    }

    /// The weight whose input a linear layer shares (Q for K and V).
    static func sharedInput(_ name: String) -> String {
        name.replacingOccurrences(of: ".attention.self.key.weight", with: ".attention.self.query.weight")
            .replacingOccurrences(of: ".attention.self.value.weight", with: ".attention.self.query.weight")
    }
}
