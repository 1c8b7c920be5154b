import Foundation
import SlimCore
import SlimModel

/// One subset of the evaluation texts, evaluated on its own (issue 22).
public struct TextSlice: Sendable {
    public let name: String
    /// Its texts: fortune entries (split at `%` lines) or non-empty lines; empty for an empty file.
    public let texts: [String]
    /// The file's whole text (decoders score it in chunks, as `--data`); the texts joined otherwise.
    public let text: String
    /// Why the slice has nothing to evaluate, when it has not.
    public let problem: String?
}

/// A slice's figure of loss, whether it stands out, and why it was skipped.
public struct SliceRow: Sendable {
    public let name: String
    /// How much worse the compressed model is on the slice (encoders 1 − mean cosine,
    /// decoders mean KL divergence); nil when the slice was skipped.
    public let degradation: Double?
    public var flagged = false
    public let figures: [String: Double]
    public let skipped: String?

    public init(name: String, degradation: Double?, figures: [String: Double], skipped: String? = nil) {
        self.name = name
        self.degradation = degradation
        self.figures = figures
        self.skipped = skipped
    }

    public var json: [String: Any] {
        var o: [String: Any] = figures
        o["name"] = name
        o["degradation"] = degradation
        o["flagged"] = flagged
        o["skipped"] = skipped
        return o
    }
}

public enum EvaluationSlices {
    /// The rule a slice is flagged by: its degradation is more than `flagFactor`
    /// times the degradation pooled over all slices' texts (and above zero).
    public static let flagFactor = 2.0

    /// Marks the rows whose degradation exceeds ``flagFactor`` × `overall`.
    public static func flag(_ rows: [SliceRow], overall: Double) -> [SliceRow] {
        rows.map { row in
            var row = row
            if let d = row.degradation { row.flagged = d > 0 && d > flagFactor * overall }
            return row
        }
    }

    /// The card's line naming the flagged slices and the rule, `measure` being the degradation's name.
    public static func flaggedLine(_ rows: [SliceRow], measure: String) -> String {
        let flagged = rows.filter(\.flagged).map(\.name)
        return "Flagged (\(measure) above \(flagFactor)x the one pooled over all slices): " + (flagged.isEmpty ? "none" : flagged.joined(separator: ", "))
    }

    /// Every text file of `folder` as a slice named by its file name: files
    /// that are UTF-8 without NUL bytes (Debian's fortunes folder also holds
    /// binary `.dat` indexes); hidden files and links to a file already listed
    /// (`art.u8 → art`) are left out. An empty file becomes a slice with a problem.
    public static func folder(_ folder: URL) throws -> [TextSlice] {
        let names = try withFileErrors("list the slices folder", path: folder.path) {
            try FileManager.default.contentsOfDirectory(atPath: folder.path)
        }
        var seen = Set<String>(), slices: [TextSlice] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue,
                  seen.insert(url.resolvingSymlinksInPath().path).inserted else { continue }
            let data = try FileReading.data(atPath: url.path)
            guard !data.contains(0), let text = try? TextInput.decodeUTF8(data, origin: url.path) else { continue }
            let texts = (try? Calibration.samples(from: url, count: .max)) ?? []
            slices.append(TextSlice(name: name, texts: texts, text: text, problem: texts.isEmpty ? "the file has no text" : nil))
        }
        guard !slices.isEmpty else {
            throw SlimError.invalidArgument("--slices \(folder.path): the folder holds no text files (UTF-8, one slice per file)")
        }
        return slices
    }

    /// Upper bounds (exclusive) of the token-count buckets of `--slices by-length`.
    public static let lengthBuckets = [16, 32, 64, 128, Int.max]

    /// `texts` bucketed by their token count (`tokens`), one slice per non-empty bucket.
    public static func byLength(_ texts: [String], tokens: (String) -> Int) -> [TextSlice] {
        var buckets = Array(repeating: [String](), count: lengthBuckets.count)
        for text in texts {
            let n = tokens(text)
            buckets[lengthBuckets.firstIndex { n < $0 }!].append(text)
        }
        return buckets.enumerated().compactMap { i, texts in
            guard !texts.isEmpty else { return nil }
            let low = i == 0 ? 0 : lengthBuckets[i - 1], high = lengthBuckets[i]
            let name = high == Int.max ? "\(low)+ tokens" : "\(low)-\(high - 1) tokens"
            return TextSlice(name: name, texts: texts, text: texts.joined(separator: "\n"), problem: nil)
        }
    }
}
