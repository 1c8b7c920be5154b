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
    static func object(at url: URL) throws -> [String: Any] { try FileReading.jsonObject(at: url) }

    static func int(_ object: [String: Any], _ key: String, file: URL, default value: Int? = nil) throws -> Int {
        if let n = object[key] as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e15 {
            return n.intValue
        }
        if object[key] == nil, let value { return value }
        throw SlimError.malformedFile(path: file.path, detail: "'\(key)' must be an integer")
    }

    static func double(_ object: [String: Any], _ key: String, file: URL, default value: Double? = nil) throws -> Double {
        if let n = object[key] as? NSNumber { return n.doubleValue }
        if object[key] == nil, let value { return value }
        throw SlimError.malformedFile(path: file.path, detail: "'\(key)' must be a number")
    }
}
