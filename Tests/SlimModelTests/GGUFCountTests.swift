import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Issue 21, GGUF counts: every count the metadata gives is checked against
/// the tensors present before anything is sized from it. A block_count of
/// 0xFFFFFFFF made `slim generate` reserve four billion blocks (15 TB, an
/// abort) and `slim compress` build a table of as many entries.
@Suite struct GGUFCountTests {
    static let cases: [(key: String, value: TestGGUF.Value)] = [
        ("llama.block_count", .u32(0xFFFF_FFFF)), ("llama.block_count", .u64(UInt64(Int.max))), ("llama.block_count", .u32(1)),
        ("llama.block_count", .u32(3)), ("llama.vocab_size", .u32(1_000_000)), ("llama.embedding_length", .u32(32)),
        ("llama.attention.head_count_kv", .u32(4)), ("llama.feed_forward_length", .u32(100)),
    ]

    static func gguf(_ i: Int) throws -> GGUFFile {
        let (key, value) = cases[i]
        let data = try TinyLlama.gguf(seed: 2) { metadata, _ in
            metadata.removeAll { $0.0 == key }
            metadata.append((key, value))
        }
        return try TestGGUF.parse(data, path: "/test/counts.gguf")
    }

    static func expectKey(_ key: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("loaded with a wrong \(key)", sourceLocation: sourceLocation)
        } catch let error as SlimError {
            guard case let .invalidConfig(path, found, _) = error else {
                Issue.record("not an invalid-config error: \(error)", sourceLocation: sourceLocation)
                return
            }
            #expect(found == key && path == "/test/counts.gguf", "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: cases.indices)
    func loadingNamesTheCountThatDisagreesWithTheTensors(_ i: Int) throws {
        let file = try Self.gguf(i)
        Self.expectKey(Self.cases[i].key) { _ = try DecoderModel(gguf: file, backend: CPUBackend()) }
    }

    /// The compressor's source reads the same counts (it sized a per-block table from them).
    @Test(arguments: cases.indices)
    func compressionNamesTheCountThatDisagreesWithTheTensors(_ i: Int) throws {
        let url = Temporary.url("counts-\(i).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        let file = try Self.gguf(i)
        try Data(file.file.bytes).write(to: url)
        do {
            _ = try DecoderSource(url)
            Issue.record("a compression source with a wrong \(Self.cases[i].key) opened")
        } catch let error as SlimError {
            guard case let .invalidConfig(_, key, _) = error else { Issue.record("\(error)"); return }
            #expect(key == Self.cases[i].key, "\(error)")
        }
    }
}
