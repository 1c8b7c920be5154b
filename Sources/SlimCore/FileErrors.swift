import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Foundation's file and JSON calls throw NSErrors whose description is a
/// dump (`Error Domain=NSCocoaErrorDomain Code=4 "(null)" UserInfo={…}`);
/// these turn them into SlimErrors that say which path, what was being done
/// and why, in words.
extension SlimError {
    /// `error`, thrown by a Foundation call `operation` on `path`, as `.io`:
    /// "PATH: cannot OPERATION: REASON", plus the file Foundation names when
    /// it is another (a temporary file beside `path`). A SlimError passes through.
    public static func io(_ error: any Error, path: String, operation: String) -> SlimError {
        if let e = error as? SlimError { return e }
        let ns = error as NSError
        let other = (ns.userInfo[NSFilePathErrorKey] as? String).flatMap { $0 == path ? nil : $0 }
        return .io(path: path, detail: "cannot \(operation): \(reason(of: ns))" + (other.map { " (\($0))" } ?? ""))
    }

    /// Why a Foundation call failed, in words: the POSIX error underneath
    /// ("no such file or directory", "permission denied"), else the parser's
    /// own account ("unexpected end of file during JSON parse"), else
    /// Foundation's sentence without its boilerplate.
    public static func reason(of error: any Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain, let text = strerror(Int32(ns.code)) { return lowercasedFirst(String(cString: text)) }
        // A Swift POSIXError on Linux, an NSError on Darwin: cast to Error, not NSError.
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error { return reason(of: underlying) }
        if let debug = ns.userInfo[NSDebugDescriptionErrorKey] as? String {
            return lowercasedFirst(debug.hasSuffix(".") ? String(debug.dropLast()) : debug)
        }
        return lowercasedFirst(ns.localizedDescription.replacingOccurrences(of: "The operation could not be completed. ", with: ""))
    }

    /// A Foundation error that reached the command line unmapped, as `.io` on
    /// the path it carries; any other error unchanged. The last line of
    /// defence: call sites map their errors with the operation they know.
    public static func fromFoundation(_ error: any Error) -> any Error {
        let ns = error as NSError
        guard !(error is SlimError), ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return error }
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path ?? "(unnamed file)"
        // Cocoa's codes 256…511 are reading, 512…767 writing.
        let operation = (256..<512).contains(ns.code) ? "read" : (512..<768).contains(ns.code) ? "write" : "complete a file operation"
        return io(error, path: path, operation: operation)
    }

    private static func lowercasedFirst(_ s: String) -> String {
        guard let first = s.first, s.dropFirst().first?.isLowercase ?? true else { return s }  // keeps "JSON", "I/O"
        return first.lowercased() + s.dropFirst()
    }
}

/// Runs `body`, Foundation calls on `path`, throwing what they throw as a
/// SlimError that names `path` and `operation` (``SlimError/io(_:path:operation:)``).
public func withFileErrors<T>(_ operation: String, path: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw SlimError.io(error, path: path, operation: operation) }
}
