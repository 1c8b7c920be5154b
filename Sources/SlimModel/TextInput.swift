import Foundation
import SlimCore

/// Text read from bytes must be valid UTF-8: a tokenizer fed replacement
/// characters would silently embed something else than the user wrote.
public enum TextInput {
    /// Decodes `bytes`, or throws naming `origin` and the offset of the first invalid byte.
    public static func decodeUTF8(_ bytes: some Collection<UInt8>, origin: String) throws(SlimError) -> String {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        var scalars = String.UnicodeScalarView()
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(s):
                scalars.append(s)
                offset += UTF8.width(s)
            case .emptyInput:
                return String(scalars)
            case .error:
                throw .malformedFile(path: origin, detail: "text is not valid UTF-8 at byte offset \(offset)")
            }
        }
    }

    /// The non-empty lines of a text file, without their line ends.
    public static func lines(ofFile path: String) throws -> [String] {
        try decodeUTF8(try FileReading.data(atPath: path), origin: path)
            .split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
            .map(String.init)
            .filter { !$0.allSatisfy(\.isWhitespace) }
    }
}
