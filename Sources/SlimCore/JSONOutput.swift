import Foundation

/// JSON text for what Slim prints and writes (`--json`, model cards).
public enum JSONOutput {
    /// JSON has no NaN or infinity and JSONSerialization refuses them with an
    /// NSError dump; they are written as null (as JavaScript's
    /// `JSON.stringify` does), so a run whose loss diverged still reports.
    public static func data(_ value: Any, options: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys]) throws -> Data {
        do { return try JSONSerialization.data(withJSONObject: finite(value), options: options) } catch {
            throw SlimError.invalidArgument("cannot write JSON: \(SlimError.reason(of: error))")
        }
    }

    private static func finite(_ value: Any) -> Any {
        switch value {
        case let array as [Any]: array.map(finite)
        case let object as [String: Any]: object.mapValues(finite)
        case let d as Double where !d.isFinite: NSNull()
        case let f as Float where !f.isFinite: NSNull()
        default: value
        }
    }
}
