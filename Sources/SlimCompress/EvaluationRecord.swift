import Foundation
import SlimCore
import SlimModel

/// One `slim eval` result, recorded in the compressed folder's model card
/// (`model_card.json` under `evaluations`, a section of `MODEL_CARD.md`, and
/// its SVG plots). A later evaluation of the same kind replaces it.
public struct EvaluationRecord {
    /// What was measured on what (e.g. "decoder on wisdom, slices fortunes"): the key that replaces.
    public let kind: String
    public let json: [String: Any]
    /// The section's Markdown, without its heading.
    public let markdown: String
    /// File name → SVG text.
    public let plots: [String: String]

    public init(kind: String, json: [String: Any], markdown: String, plots: [String: String]) {
        (self.kind, self.json, self.markdown, self.plots) = (kind, json, markdown, plots)
    }

    /// A file-name-safe form of `kind`, the prefix of its plots' names.
    public static func slug(_ kind: String) -> String {
        let s = kind.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
        return "eval-" + s.split(separator: "-").joined(separator: "-")
    }

    /// Text fit for a table cell in backticks (line breaks and tabs shown as ⏎ and ⇥), cut to `limit` characters (with an ellipsis) when given.
    public static func cell(_ s: String, limit: Int? = nil) -> String {
        let cut = limit.map { s.count > $0 ? String(s.prefix($0)) + "…" : s } ?? s
        return cut.replacingOccurrences(of: "\n", with: "⏎").replacingOccurrences(of: "\t", with: "⇥").replacingOccurrences(of: "|", with: "¦")
            .replacingOccurrences(of: "`", with: "'")
    }

    /// Writes the record into `folder`, a folder Slim wrote. Each file is
    /// staged and renamed; `model_card.json` goes first, its `files` list
    /// already naming the plots, so the list never misses a file on disk
    /// (OutputPolicy tells Slim's files from a user's by it).
    public func record(in folder: URL, inputs: [URL]) throws {
        guard OutputPolicy.isSlimFolder(folder) else {
            throw SlimError.invalidArgument("\(folder.path): not a folder Slim wrote (no model_card.json of Slim's); the evaluation is not recorded")
        }
        let claim = try OutputPolicy.claimFolder(folder, inputs: inputs, overwrite: true)
        defer { claim.release() }
        let cardURL = folder.appendingPathComponent(OutputPolicy.cardFile)
        guard var card = try JSONSerialization.jsonObject(with: try FileReading.data(atPath: cardURL.path)) as? [String: Any] else {
            throw SlimError.malformedFile(path: cardURL.path, detail: "not a JSON object")
        }
        var evaluations = card["evaluations"] as? [String: Any] ?? [:]
        evaluations[kind] = json.merging(["plots": plots.keys.sorted()]) { $1 }
        card["evaluations"] = evaluations
        let listed = Set(card[OutputPolicy.cardFilesKey] as? [String] ?? [])
        card[OutputPolicy.cardFilesKey] = listed.union(plots.keys).union(["MODEL_CARD.md"]).sorted()
        try writeAtomically(try JSONOutput.data(card), to: cardURL)
        for (name, svg) in plots { try writeAtomically(Data(svg.utf8), to: folder.appendingPathComponent(name)) }
        let mdURL = folder.appendingPathComponent("MODEL_CARD.md")
        let old = (try? String(contentsOf: mdURL, encoding: .utf8)) ?? "# Compressed with Slim\n"
        try writeAtomically(Data(Self.replacingSection(kind, in: old, with: markdown).utf8), to: mdURL)
    }

    /// `markdown` with the section of `kind` (between its markers) replaced, or appended.
    static func replacingSection(_ kind: String, in markdown: String, with body: String) -> String {
        let begin = "<!-- slim eval: \(kind) -->", end = "<!-- end slim eval: \(kind) -->"
        let section = "\(begin)\n## Evaluation: \(kind)\n\n\(body)\(body.hasSuffix("\n") ? "" : "\n")\(end)\n"
        if let a = markdown.range(of: begin), let b = markdown.range(of: end, range: a.upperBound..<markdown.endIndex) {
            var tail = markdown[b.upperBound...]
            if tail.hasPrefix("\n") { tail = tail.dropFirst() }
            return String(markdown[..<a.lowerBound]) + section + tail
        }
        return markdown + (markdown.hasSuffix("\n") ? "\n" : "\n\n") + section
    }
}
