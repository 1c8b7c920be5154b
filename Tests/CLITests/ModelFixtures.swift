import Foundation
import Testing
import TestSupport

/// Edits of model files for the tests of bad numbers (issue 21): one value of
/// a safetensors or GGUF tensor replaced, a config.json key changed, a GGUF
/// metadata value overwritten in place.
enum ModelFixtures {
    /// The tiny random BERT of the pruning tests, in a fresh folder under `base`.
    static func tinyBERT(_ base: URL, _ name: String) throws -> URL {
        let folder = base.appendingPathComponent(name)
        // The bad-number tests poison chosen values; the rest of the weights need no fresh draw.
        try StructuredPruneCLI.tinyBERT(at: folder, seed: 17)
        return folder
    }

    /// A fresh temporary folder for one test.
    static func workspace(_ name: String) throws -> URL {
        try Temporary.folder("numerics-\(name)")
    }

    /// Sets element `element` of the f32 tensor `tensor` in a safetensors file to `value`.
    static func poisonSafeTensors(_ file: URL, tensor: String, element: Int, with value: Float) throws {
        var data = try Data(contentsOf: file)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as! [String: Any]
        let entry = header[tensor] as! [String: Any]
        let start = 8 + headerLength + (entry["data_offsets"] as! [Int])[0] + 4 * element
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.replaceSubrange(start..<start + 4, with: $0) }
        try data.write(to: file)
    }

    /// Sets (or, with nil, removes) a key of a folder's config.json.
    static func editConfig(_ folder: URL, _ key: String, _ value: Any?) throws {
        let url = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        config[key] = value
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// A copy of a GGUF file, to patch.
    static func copy(_ path: String, to url: URL) throws -> URL {
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: path), to: url)
        return url
    }

    /// Overwrites the value of the scalar metadata key `key` (its type kept) with `bytes`.
    static func patchGGUFMetadata(_ file: URL, key: String, bytes: [UInt8]) throws {
        var data = try Data(contentsOf: file)
        let header = GGUFHeader(data)
        let at = try #require(header.metadataValueOffsets[key], "no metadata key \(key)")
        data.replaceSubrange(at..<at + bytes.count, with: bytes)
        try data.write(to: file)
    }

    /// Sets element `element` of the f32 tensor `tensor` of a GGUF file to `value`.
    static func poisonGGUF(_ file: URL, tensor: String, element: Int, with value: Float) throws {
        var data = try Data(contentsOf: file)
        let at = try #require(GGUFHeader(data).tensorDataOffsets[tensor], "no tensor \(tensor)") + 4 * element
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.replaceSubrange(at..<at + 4, with: $0) }
        try data.write(to: file)
    }
}

/// Just enough of a GGUF reader to find where a metadata value and a tensor's data sit.
struct GGUFHeader {
    var metadataValueOffsets: [String: Int] = [:]
    var tensorDataOffsets: [String: Int] = [:]

    init(_ data: Data) {
        let bytes = [UInt8](data)
        var at = 8
        func u32() -> Int { defer { at += 4 }; return (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        func u64() -> Int { defer { at += 8 }; return (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        func string() -> String { let n = u64(); defer { at += n }; return String(decoding: bytes[at..<at + n], as: UTF8.self) }
        let sizes: [Int: Int] = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8]
        func skip(_ type: Int) {
            switch type {
            case 8: _ = string()
            case 9:
                let inner = u32(), count = u64()
                for _ in 0..<count { skip(inner) }
            default: at += sizes[type]!
            }
        }
        let tensors = u64(), keys = u64()
        for _ in 0..<keys {
            let key = string(), type = u32()
            metadataValueOffsets[key] = at
            skip(type)
        }
        var relative: [(String, Int)] = []
        for _ in 0..<tensors {
            let name = string(), dims = u32()
            at += 8 * dims + 4
            relative.append((name, u64()))
        }
        let dataStart = (at + 31) / 32 * 32  // general.alignment: 32 in the files used here
        for (name, offset) in relative { tensorDataOffsets[name] = dataStart + offset }
    }
}
