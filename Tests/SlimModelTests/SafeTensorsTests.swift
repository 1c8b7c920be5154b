import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// A safetensors file from a header text and `dataBytes` zero bytes of data.
func rawSafeTensors(_ header: String, dataBytes: Int = 0) -> Data {
    var d = Data()
    d.le(UInt64(header.utf8.count))
    d.append(contentsOf: Array(header.utf8))
    d.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
    return d
}

@Suite struct SafeTensorsTests {
    static let path = "/test/model.safetensors"

    static func parse(_ data: Data) throws -> SafeTensorsFile {
        try SafeTensorsFile(MappedFile(data: data, path: path))
    }

    @Test func miniLMListsItsTensors() throws {
        let file = try SafeTensorsFile(contentsOf: try TestAssets.miniLM.appendingPathComponent("model.safetensors"))
        print("MiniLM model.safetensors: \(file.tensors.count) tensors, \(file.tensors.reduce(0) { $0 + $1.elementCount }) elements")
        // 103 F32 weights and biases (5 embedding, 6 layers × 16, 2 pooler) and the I64 position_ids buffer,
        // as Python's json reading of the header counts them.
        #expect(file.tensors.count == 104)
        #expect(Set(file.tensors.map(\.kind)) == [.f32, .i64])
        #expect(file.metadata == ["format": "pt"])
        let embeddings = try file.tensor(named: "embeddings.word_embeddings.weight")
        #expect(embeddings.kind == .f32 && embeddings.shape == [30522, 384] && embeddings.byteRange.count == 30522 * 384 * 4)
        let positions = try file.tensor(named: "embeddings.position_ids")
        #expect(positions.kind == .i64 && positions.shape == [1, 512])
        #expect(try file.int64s(positions) == (0..<512).map(Int64.init))
        #expect(file.tensors.map(\.byteRange.lowerBound) == file.tensors.map(\.byteRange.lowerBound).sorted(), "file order")
        #expect(file.tensors.last?.byteRange.upperBound == file.fileBytes, "the data section is fully used")
    }

    @Test func writerRoundTripsEveryKind() throws {
        let f32: [Float] = [1, -2, 3.5, 0.125, -0, 7, 8, 9]
        let entries: [SafeTensorsWriter.Entry] = [
            .init(name: "z.f32", kind: .f32, shape: [2, 4], data: f32.withUnsafeBytes { Data($0) }),
            .init(name: "a.f16", kind: .f16, shape: [3], data: Data([0x00, 0x38, 0x00, 0xC0, 0x00, 0x3C])),
            .init(name: "bf16", kind: .bf16, shape: [1, 1], data: Data([0x80, 0x3F])),
            .init(name: "ids", kind: .i64, shape: [2], data: [Int64(-1), 1 << 40].withUnsafeBytes { Data($0) }),
            .init(name: "mask", kind: .bool, shape: [3], data: Data([1, 0, 1])),
            .init(name: "empty", kind: .u8, shape: [0, 5], data: Data()),
            .init(name: "bytes", kind: .u8, shape: [], data: Data([42])),
        ]
        let url = Temporary.url("roundtrip.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(entries, metadata: ["format": "pt", "note": "ü \"quoted\""], to: url)

        let raw = try Data(contentsOf: url)
        let headerLength = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0, "padded to 8 bytes as the reference writer does")
        #expect(raw.count == 8 + headerLength + entries.reduce(0) { $0 + $1.data.count })
        let header = String(decoding: raw[8..<8 + headerLength], as: UTF8.self)
        #expect(header.hasPrefix("{\"__metadata__\""), "keys sorted: \(header.prefix(40))")
        #expect(Data(raw[(8 + headerLength)...]) == entries.reduce(Data()) { $0 + $1.data }, "contiguous, in the given order")

        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == ["format": "pt", "note": "ü \"quoted\""])
        #expect(file.tensors.map(\.name) == entries.map(\.name))
        for (t, e) in zip(file.tensors, entries) {
            #expect(t.kind == e.kind && t.shape == e.shape, "\(t.name)")
            #expect(try Data(file.bytes(of: t)) == e.data, "\(t.name) bytes")
        }
        #expect(try file.floats(try file.tensor(named: "z.f32")) == f32)
        #expect(try file.floats(try file.tensor(named: "a.f16")) == [0.5, -2, 1])
        #expect(try file.floats(try file.tensor(named: "bf16")) == [1])
        #expect(try file.int64s(try file.tensor(named: "ids")) == [-1, 1 << 40])
        #expect(try file.int64s(try file.tensor(named: "mask")) == [1, 0, 1])
    }

    @Test func writerRefusesDataThatDoesNotMatchTheShape() throws {
        let url = Temporary.url("bad.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: SlimError.self) {
            try SafeTensorsWriter.write([.init(name: "w", kind: .f32, shape: [3], data: Data(count: 8))], to: url)
        }
        #expect(throws: SlimError.self) {
            try SafeTensorsWriter.write([.init(name: "w", kind: .q8_0, shape: [32], data: Data(count: 34))], to: url)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path), "nothing written")
    }

    /// Every tensor of the real model through the writer and back: same names, shapes, bytes.
    @Test func rewritingMiniLMKeepsEveryTensor() throws {
        let source = try SafeTensorsFile(contentsOf: try TestAssets.miniLM.appendingPathComponent("model.safetensors"))
        let url = Temporary.url("minilm.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write(try source.tensors.map { .init(name: $0.name, kind: $0.kind, shape: $0.shape, data: Data(try source.bytes(of: $0))) },
                                    metadata: source.metadata, to: url)
        let copy = try SafeTensorsFile(contentsOf: url)
        #expect(copy.tensors.count == source.tensors.count && copy.metadata == source.metadata)
        for (a, b) in zip(source.tensors, copy.tensors) {
            #expect(a.name == b.name && a.kind == b.kind && a.shape == b.shape)
            #expect(try source.bytes(of: a).elementsEqual(copy.bytes(of: b)), "\(a.name) bytes")
        }
    }

    // MARK: - Files that must be refused

    @Test func badLengthsAndHeaders() {
        expectMalformed(Self.path, mentions: ["header length"]) { _ = try Self.parse(Data([1, 2, 3])) }
        var tooLong = rawSafeTensors("{}")
        tooLong[0] = 200
        expectMalformed(Self.path, mentions: ["header length 200"]) { _ = try Self.parse(tooLong) }
        expectMalformed(Self.path, mentions: ["header length 1"]) { _ = try Self.parse(rawSafeTensors("{")) }
        var huge = rawSafeTensors("{}")
        huge.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        expectMalformed(Self.path, mentions: ["header length"]) { _ = try Self.parse(huge) }
        var notUTF8 = rawSafeTensors("{\"a\":1}")
        notUTF8[10] = 0xFF
        expectMalformed(Self.path, mentions: ["UTF-8"]) { _ = try Self.parse(notUTF8) }
        for header in ["{abc", "[1, 2]", "\"text\"", "12", "{\"a\": 1} trailing"] {
            expectMalformed(Self.path, mentions: ["JSON object"]) { _ = try Self.parse(rawSafeTensors(header)) }
        }
        // Deep nesting must be an error, not a stack overflow in the JSON parser.
        let deep = "{\"w\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        expectMalformed(Self.path) { _ = try Self.parse(rawSafeTensors(deep)) }
        expectMalformed(Self.path, mentions: ["__metadata__"]) { _ = try Self.parse(rawSafeTensors("{\"__metadata__\": {\"a\": 1}}")) }
        #expect(throws: Never.self) { _ = try Self.parse(rawSafeTensors("{}")) }
    }

    @Test func badTensorEntriesNameTheTensor() {
        let cases: [(header: String, data: Int, mentions: [String])] = [
            (#"{"w": 5}"#, 0, ["not an object"]),
            (#"{"w": {"shape": [1], "data_offsets": [0, 4]}}"#, 4, ["no dtype"]),
            (#"{"w": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}"#, 1, ["unknown dtype 'F8'"]),
            (#"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#, 4, ["shape"]),
            (#"{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#, 4, ["shape"]),
            (#"{"w": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}}"#, 4, ["shape"]),
            (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}"#, 4, ["data_offsets"]),
            (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#, 4, ["data_offsets"]),
            (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}"#, 4, ["data_offsets"]),
            (#"{"w": {"dtype": "F32", "shape": [25], "data_offsets": [0, 100]}}"#, 4, ["run past"]),
            (#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}"#, 4, ["needs 8 bytes"]),
            (#"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}"#, 4, ["too many"]),
            (#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
             12, ["'w'", "'v'", "overlap"]),
            (#"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}"#,
             2, ["twice"]),
        ]
        for c in cases {
            expectMalformed(Self.path, mentions: c.mentions + (c.mentions.contains("'w'") ? [] : ["'w'"])) {
                _ = try Self.parse(rawSafeTensors(c.header, dataBytes: c.data))
            }
        }
        // The same name spelled two ways: the JSON parser keeps one, the key count gives it away.
        let escaped = #"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "\u0077": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}"#
        expectMalformed(Self.path, mentions: ["distinct"]) { _ = try Self.parse(rawSafeTensors(escaped, dataBytes: 2)) }
    }

    @Test func missingTensorNamesTheFileAndTensor() throws {
        let file = try Self.parse(rawSafeTensors(#"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}"#, dataBytes: 1))
        expectMalformed(Self.path, mentions: ["missing tensor 'encoder.weight'"]) { _ = try file.tensor(named: "encoder.weight") }
    }

    @Test func missingFileIsAnIOErrorNamingIt() {
        do {
            _ = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/model.safetensors"))
            Issue.record("opened a file that does not exist")
        } catch let SlimError.io(path, _) {
            #expect(path == "/nonexistent/model.safetensors")
        } catch {
            Issue.record("expected an I/O error, got \(error)")
        }
    }
}
