import Foundation

/// Reading whole files with errors that say why: `FileManager.contents(atPath:)`
/// answers nil for a missing file, a folder and a permission problem alike.
public enum FileReading {
    public static func data(atPath path: String) throws -> Data {
        try withFileErrors("read", path: path) { try Data(contentsOf: URL(fileURLWithPath: path)) }
    }

    /// The JSON value in the file; a syntax error is a malformed file, with the parser's reason.
    public static func json(at url: URL) throws -> Any {
        let bytes = try data(atPath: url.path)
        do { return try JSONSerialization.jsonObject(with: bytes) } catch {
            throw SlimError.malformedFile(path: url.path, detail: "not valid JSON: \(SlimError.reason(of: error))")
        }
    }

    public static func jsonObject(at url: URL) throws -> [String: Any] {
        guard let object = try json(at: url) as? [String: Any] else {
            throw SlimError.malformedFile(path: url.path, detail: "not a JSON object")
        }
        return object
    }
}
