import SlimCore

/// Per-layer exceptions to a compression's format (`--layer NAME=FORMAT`).
public enum LayerFormats {
    /// Parses `NAME=FORMAT` (FORMAT a quantized format or `fp32`); `.weight` may be left off NAME.
    public static func parse(_ options: [String]) throws -> [String: QuantFormat?] {
        var result: [String: QuantFormat?] = [:]
        for option in options {
            guard let eq = option.lastIndex(of: "="), eq != option.startIndex else {
                throw SlimError.invalidArgument("--layer \(option): expected NAME=FORMAT (FORMAT: int8, int4-g128, q8_0, … or fp32)")
            }
            let name = String(option[..<eq]), value = String(option[option.index(after: eq)...])
            let format = value == "fp32" ? nil : try QuantFormat(parsing: value)
            if let format, format.isFloat16 {
                throw SlimError.invalidArgument("--layer \(option): \(format) is a float type, not a compression format (fp32 keeps a layer uncompressed)")
            }
            result[name] = .some(format)
        }
        return result
    }

    /// The exceptions keyed by full weight names, each checked against the layers compression touches.
    static func resolve(_ formats: [String: QuantFormat?], among names: Set<String>) throws -> [String: QuantFormat?] {
        var resolved: [String: QuantFormat?] = [:]
        for (name, format) in formats {
            let full = names.contains(name) ? name : name + ".weight"
            guard names.contains(full) else {
                let examples = names.sorted().prefix(3).joined(separator: ", ")
                throw SlimError.invalidArgument("--layer \(name): no such layer among the \(names.count) compressed weights (e.g. \(examples))")
            }
            resolved[full] = format
        }
        return resolved
    }
}
