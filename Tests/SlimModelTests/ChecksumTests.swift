import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Flips one bit in the middle of tensor `name`'s bytes, as a bad disk or an
/// interrupted copy would, and returns the byte offset changed.
@discardableResult
func corrupt(_ url: URL, tensor name: String) throws -> Int {
    let range = try SafeTensorsFile(contentsOf: url).tensor(named: name).byteRange
    var data = try Data(contentsOf: url)
    let offset = range.lowerBound + range.count / 2
    data[offset] ^= 0x10
    try data.write(to: url)
    return offset
}

/// Every safetensors file Slim writes carries an xxh64 checksum per tensor in
/// its `__metadata__`; a tensor whose bytes changed is refused when it is
/// read, naming the file and the tensor.
@Suite struct ChecksumTests {
    static var entries: [SafeTensorsWriter.Entry] {
        ["a", "b", "c"].enumerated().map { i, name in
            let values = (0..<64).map { Float($0 * (i + 1)) }
            return .init(name: name, kind: .f32, shape: [8, 8], data: values.withUnsafeBytes { Data($0) })
        }
    }

    @Test func writtenFilesStayPlainSafeTensorsWithAChecksumPerTensor() throws {
        let url = Temporary.url("sums.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(Self.entries, metadata: ["format": "pt"], to: url)
        // What another reader sees: a string-to-string __metadata__ holding the checksums beside our keys.
        let raw = try Data(contentsOf: url)
        let length = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: raw[8..<8 + length]) as? [String: Any])
        let metadata = try #require(header["__metadata__"] as? [String: String])
        for e in Self.entries {
            let digest = e.data.withUnsafeBytes { XXHash64.hash($0) }
            #expect(metadata["slim.xxh64:" + e.name] == String(digest, radix: 16).leftPadded(16), "\(e.name)")
        }
        // Slim's reader keeps its checksums apart from the file's own metadata.
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.floats(try file.tensor(named: "b")) == (0..<64).map { Float($0 * 2) })
    }

    @Test func aChangedTensorIsRefusedWhenReadAndOnlyThen() throws {
        let url = Temporary.url("flip.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(Self.entries, to: url)
        try corrupt(url, tensor: "b")
        let file = try SafeTensorsFile(contentsOf: url)
        // Per tensor: a model streamed block by block checks only what it reads.
        #expect(try file.floats(try file.tensor(named: "a")) == (0..<64).map(Float.init))
        expectMalformed(url.path, mentions: ["tensor 'b'", "checksum"]) { _ = try file.floats(try file.tensor(named: "b")) }
        expectMalformed(url.path, mentions: ["tensor 'b'", "checksum"]) { _ = try file.bytes(of: try file.tensor(named: "b")) }
        #expect(try file.floats(try file.tensor(named: "c")).count == 64)
    }

    @Test func aChangedHeaderIsRefusedWhenOpened() throws {
        let url = Temporary.url("header.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(Self.entries, metadata: ["loss_curve": "step,loss\n1,0.25\n"], to: url)
        var data = try Data(contentsOf: url)
        let digit = try #require(data.firstRange(of: Data("0.25".utf8)))
        data[digit.lowerBound + 2] = UInt8(ascii: "3")  // 0.25 → 0.35: still a number, still valid JSON
        try data.write(to: url)
        expectMalformed(url.path, mentions: ["header", "checksum"]) { _ = try SafeTensorsFile(contentsOf: url) }
    }

    /// A damaged key is as bad as a damaged value: once a file records checksums, every tensor needs one.
    @Test func aChecksummedFileMustCoverEveryTensor() throws {
        let url = Temporary.url("keys.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(Self.entries, to: url)
        var data = try Data(contentsOf: url)
        let key = try #require(data.firstRange(of: Data("slim.xxh64:a".utf8)))
        data[key.upperBound - 1] = UInt8(ascii: "x")
        try data.write(to: url)
        expectMalformed(url.path, mentions: ["tensor 'a'", "checksum"]) { _ = try SafeTensorsFile(contentsOf: url) }
    }

    @Test func filesWithoutChecksumsLoadAsBefore() throws {
        let file = try SafeTensorsTests.parse(rawSafeTensors(#"{"w": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}"#, dataBytes: 2))
        #expect(try file.int64s(try file.tensor(named: "w")) == [0, 0])
    }

    @Test func aCorruptCompressedFolderFailsToLoadNamingTheTensor() throws {
        let source = Temporary.url("sum-src"), out = Temporary.url("sum-out")
        defer { for f in [source, out] { try? FileManager.default.removeItem(at: f) } }
        try AutoCompressionTests.randomBert(source, seed: 5)
        _ = try ModelCompressor(format: .int8PerChannel).compress(source, to: out, hashSource: false)
        #expect(throws: Never.self) { try SentenceEmbedder.load(folder: out, backend: CPUBackend()) }
        let weights = out.appendingPathComponent("model.safetensors"), tensor = "encoder.layer.1.intermediate.dense.weight.qdata"
        try corrupt(weights, tensor: tensor)
        expectMalformed(weights.path, mentions: ["tensor '\(tensor)'", "checksum"]) {
            _ = try SentenceEmbedder.load(folder: out, backend: CPUBackend())
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
