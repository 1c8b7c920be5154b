import Foundation
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory: tensors are read in place,
/// never copied until a backend uploads them.
public final class MappedFile: @unchecked Sendable {
    // @unchecked: the mapping is read-only and lives as long as the object.
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?
    private let owned: UnsafeMutableRawBufferPointer?

    public var count: Int { bytes.count }
    public var url: URL { URL(fileURLWithPath: path) }

    public convenience init(url: URL) throws { try self.init(path: url.path) }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SlimError.io(path: path, detail: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SlimError.io(path: path, detail: "cannot stat: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw SlimError.io(path: path, detail: "not a regular file") }
        let size = Int(info.st_size)
        owned = nil
        if size == 0 {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SlimError.io(path: path, detail: "cannot map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        mapping = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// An in-memory "file" (tests and fuzzing parse thousands of these without touching the disk).
    public init(data: Data, path: String) {
        self.path = path
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.copyBytes(to: buffer)
        owned = buffer
        mapping = nil
        bytes = UnsafeRawBufferPointer(start: buffer.baseAddress, count: data.count)
    }

    /// Drops the pages that lie wholly inside `range` from the resident set;
    /// the next read of them faults them in from the file again. Pages shared
    /// with bytes outside `range` stay, so a neighbour still in use keeps its
    /// data resident. An in-memory file has no file behind it and keeps
    /// everything (MADV_DONTNEED on its memory would zero it).
    public func release(_ range: Range<Int>) {
        guard let mapping, !range.isEmpty else { return }
        let page = Self.pageSize
        let first = (range.lowerBound + page - 1) / page * page, end = min(range.upperBound, count) / page * page
        guard first < end else { return }
        // Read-only and never written, the mapping's pages are the file's: dropping them loses nothing.
        _ = madvise(mapping + first, end - first, MADV_DONTNEED)
    }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
        owned?.deallocate()
    }
}

/// A bounds-checked little-endian cursor over a file's bytes: every read
/// checks what is left first, so a corrupt length can neither read past the
/// end nor make us allocate what the file cannot hold. Descriptions of what
/// is read are autoclosures: a GGUF header holds ~100k strings, and building
/// a message for each would cost more than reading them.
struct ByteReader {
    let file: MappedFile
    private(set) var offset: Int

    init(_ file: MappedFile, at offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    var remaining: Int { file.count - offset }

    func fail(_ what: String, at position: Int? = nil) -> SlimError {
        .malformedFile(path: file.path, detail: "\(what) (at byte \(position ?? offset))")
    }

    func require(_ count: Int, for what: @autoclosure () -> String) throws(SlimError) {
        guard count >= 0, count <= remaining else {
            throw fail("\(what()) needs \(count) bytes but only \(remaining) remain")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(SlimError) -> T {
        try require(MemoryLayout<T>.size, for: what())
        let v = T(littleEndian: file.bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func readF32(_ what: @autoclosure () -> String) throws(SlimError) -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }
    mutating func readF64(_ what: @autoclosure () -> String) throws(SlimError) -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }
    /// One byte; any nonzero value is true, as llama.cpp reads it.
    mutating func readBool(_ what: @autoclosure () -> String) throws(SlimError) -> Bool {
        try read(UInt8.self, what()) != 0
    }

    /// A u64 count of items each at least `minimumBytes` long, checked against
    /// what is left before anyone reserves room for that many.
    mutating func readCount(_ what: @autoclosure () -> String, minimumBytes: Int) throws(SlimError) -> Int {
        let start = offset
        let n = try read(UInt64.self, what())
        guard n <= UInt64(remaining / max(minimumBytes, 1)) else {
            throw fail("\(what()) is \(n), but the \(remaining) bytes left hold at most \(remaining / max(minimumBytes, 1))", at: start)
        }
        return Int(n)
    }

    mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws(SlimError) -> UnsafeRawBufferPointer {
        try require(count, for: what())
        let slice = UnsafeRawBufferPointer(rebasing: file.bytes[offset..<offset + count])
        offset += count
        return slice
    }

    /// A UTF-8 string of `count` bytes; invalid UTF-8 is an error, not replacement characters.
    mutating func string(_ count: Int, _ what: @autoclosure () -> String) throws(SlimError) -> String {
        let start = offset
        let raw = try bytes(count, what())
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("\(what()) is not valid UTF-8", at: start) }
        return s
    }
}
