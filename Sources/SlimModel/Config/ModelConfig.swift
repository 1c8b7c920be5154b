import Foundation
import SlimCore

/// A Hugging Face `config.json`, read into the architecture it names.
/// An architecture Slim cannot run is an error here, before any weight is read.
public enum ModelConfig: Sendable {
    case bert(BertConfig)

    public var architecture: String {
        switch self { case .bert: "bert" }
    }

    public static func load(_ url: URL) throws -> ModelConfig {
        let object = try JSONFile.object(at: url)
        let type = object["model_type"] as? String ?? ""
        switch type {
        case "bert": return .bert(try BertConfig(object, file: url))
        default:
            let names = (object["architectures"] as? [String])?.joined(separator: ", ") ?? "none given"
            throw SlimError.unsupported(op: "load \(url.path)", backend: "model",
                                        reason: "unknown architecture model_type '\(type)' (architectures: \(names)); Slim runs: bert")
        }
    }
}

/// Reading JSON files with errors that name the file and the key.
enum JSONFile {
    static func object(at url: URL) throws -> [String: Any] {
        do { return try FileReading.jsonObject(at: url) } catch let error as SlimError {
            // A NaN or Infinity literal is not JSON: name the key that holds it.
            if case .malformedFile = error, let data = try? Data(contentsOf: url), let (key, literal) = nonStandardNumber(in: data) {
                throw SlimError.invalidConfig(path: url.path, key: key,
                                              detail: "is \(literal), which JSON cannot hold (Python's json writes it for a non-finite float)")
            }
            throw error
        }
    }

    /// The first `"key": NaN`, `Infinity` or overflowing number (`1e999`) in
    /// text JSON refuses: the key it belongs to, for the error.
    static func nonStandardNumber(in data: Data) -> (key: String, literal: String)? {
        let text = String(decoding: data, as: UTF8.self)
        let pattern = #""((?:[^"\\]|\\.)*)"\s*:\s*(-?(?:NaN|Infinity)|-?[0-9][0-9.eE+-]*)"#
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return nil }
        for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let key = Range(match.range(at: 1), in: text), let value = Range(match.range(at: 2), in: text) else { continue }
            let literal = String(text[value])
            if !(Double(literal)?.isFinite ?? true) || literal.contains("NaN") || literal.contains("Infinity") {
                return (String(text[key]), literal)
            }
        }
        return nil
    }

    static func int(_ object: [String: Any], _ key: String, file: URL, default value: Int? = nil) throws -> Int {
        if let n = object[key] as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e15 {
            return n.intValue
        }
        if object[key] == nil, let value { return value }
        throw SlimError.invalidConfig(path: file.path, key: key, detail: object[key] == nil ? "is missing" : "is \(object[key]!), not an integer")
    }

    static func double(_ object: [String: Any], _ key: String, file: URL, default value: Double? = nil) throws -> Double {
        if let n = object[key] as? NSNumber { return n.doubleValue }
        if object[key] == nil, let value { return value }
        throw SlimError.invalidConfig(path: file.path, key: key, detail: object[key] == nil ? "is missing" : "is \(object[key]!), not a number")
    }
}
