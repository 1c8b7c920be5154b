import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// The GGUF writer, read back by Slim's own reader: every key with its stored
/// type and value, every tensor's bytes, at the alignment asked for.
@Suite struct GGUFWriterTests {
    /// Random metadata of every value type and random tensors of every kind
    /// GGUF stores, with row counts that are multiples of nothing, write and
    /// read back as they were, each tensor at a multiple of the alignment.
    @Test(.seeded, arguments: [32, 64])
    func everyKeyAndTensorReadsBackAsWritten(alignment: Int) throws {
        var rng = SplitMix64(seed: TestSeed.current)
        func text() -> String { String((0..<Int.random(in: 0...12, using: &rng)).map { _ in "aé▁ĠZ.\u{1F600}".randomElement(using: &rng)! }) }
        var metadata: [GGUFMetadataEntry] = [
            .uint32("general.alignment", alignment),
            .init("t.u8", .uint(UInt64.random(in: 0...255, using: &rng)), as: .init(.uint8)),
            .init("t.i8", .int(Int64.random(in: -128...127, using: &rng)), as: .init(.int8)),
            .init("t.u16", .uint(UInt64.random(in: 0...65535, using: &rng)), as: .init(.uint16)),
            .init("t.i16", .int(Int64.random(in: -32768...32767, using: &rng)), as: .init(.int16)),
            .uint32("t.u32", Int.random(in: 0...Int(UInt32.max), using: &rng)),
            .init("t.i32", .int(Int64.random(in: Int64(Int32.min)...Int64(Int32.max), using: &rng)), as: .int32),
            .init("t.u64", .uint(UInt64.random(in: 0...UInt64.max, using: &rng)), as: .uint64),
            .init("t.i64", .int(Int64.random(in: Int64.min...Int64.max, using: &rng)), as: .init(.int64)),
            // A float32 value is one a Float holds exactly, so the read-back Double equals it.
            .float32("t.f32", Float.random(in: -1e6...1e6, using: &rng)),
            .init("t.f64", .float(Double.random(in: -1e300...1e300, using: &rng)), as: .init(.float64)),
            .bool("t.bool", Bool.random(using: &rng)),
            .string("t.string", text()),
            .strings("t.strings", (0..<Int.random(in: 0...40, using: &rng)).map { _ in text() }),
            .float32s("t.floats", (0..<Int.random(in: 1...40, using: &rng)).map { _ in Float.random(in: -1...1, using: &rng) }),
            .int32s("t.ints", (0..<Int.random(in: 1...40, using: &rng)).map { _ in Int.random(in: -100...100, using: &rng) }),
        ]
        metadata.shuffle(using: &rng)
        // Rows: odd counts; columns: whole blocks of 32 for the block kinds, any count for the rest.
        let kinds: [StoredKind] = [.f32, .f16, .q8_0, .q4_0, .q4_1, .f32, .q4_0]
        let tensors = kinds.enumerated().map { i, kind in
            let columns = kind.quantFormat == nil ? Int.random(in: 1...77, using: &rng) : 32 * Int.random(in: 1...5, using: &rng)
            let shape = i == 5 ? [Int.random(in: 1...99, using: &rng)] : [Int.random(in: 1...37, using: &rng) | 1, columns]
            return GGUFTensorPlan(name: "tensor.\(i).\(kind)", shape: shape, kind: kind)
        }
        let data = try tensors.map { t in (0..<(try #require(t.byteCount))).map { _ in UInt8.random(in: 0...255, using: &rng) } }

        let folder = try Temporary.folder("gguf-writer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("t.gguf")
        let written = try GGUFWriter.write(to: url, metadata: metadata, tensors: tensors) { i, _ in Data(data[i]) }
        let file = try GGUFFile(contentsOf: url)
        #expect(file.version == 3 && file.alignment == alignment)
        #expect(written.fileBytes == file.file.count)
        #expect(file.metadataKeys == metadata.map(\.key), "keys in the order written")
        for e in metadata {
            #expect(file.metadata[e.key] == e.value, "\(e.key)")
            #expect(file.metadataTypes[e.key] == e.type, "\(e.key) stored as \(e.type)")
        }
        #expect(file.tensors.map(\.name) == tensors.map(\.name))
        for (i, t) in tensors.enumerated() {
            let read = try #require(file.tensorsByName[t.name])
            #expect(read.kind == t.kind && read.shape == t.shape, "\(t.name)")
            #expect(Array(try file.bytes(of: read)) == data[i], "\(t.name) byte for byte")
            #expect((read.byteRange.lowerBound - file.dataOffset) % alignment == 0, "\(t.name) aligned")
        }
    }

    /// The default alignment is written as a UINT32 key, as llama.cpp's loader asks for it.
    @Test func alignmentKeyIsAddedAsUInt32() throws {
        let folder = try Temporary.folder("gguf-writer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("t.gguf")
        _ = try GGUFWriter.write(to: url, metadata: [.string("general.architecture", "llama")],
                                 tensors: [GGUFTensorPlan(name: "a", shape: [3], kind: .f32)]) { _, _ in Data(count: 12) }
        let file = try GGUFFile(contentsOf: url)
        #expect(file.metadataTypes["general.alignment"] == .uint32 && file.metadata["general.alignment"]?.int == 32)
    }

    /// A value its type cannot hold, a duplicate key, a tensor given the wrong number of
    /// bytes or a shape its kind cannot store: each an error naming the key or tensor.
    @Test func badInputsAreErrorsNamingTheKeyOrTensor() throws {
        let folder = try Temporary.folder("gguf-writer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("t.gguf")
        let ok = GGUFTensorPlan(name: "ok", shape: [2, 32], kind: .q8_0)
        func message(_ metadata: [GGUFMetadataEntry], _ tensors: [GGUFTensorPlan] = [], bytes: Int = 68) -> String {
            do {
                _ = try GGUFWriter.write(to: url, metadata: metadata, tensors: tensors) { _, _ in Data(count: bytes) }
                return "written"
            } catch { return "\(error)" }
        }
        #expect(message([.uint32("too.big", 1 << 40)]).contains("too.big"))
        #expect(message([.init("neg", .int(-1), as: .uint64)]).contains("neg"))
        #expect(message([.string("twice", "a"), .string("twice", "b")]).contains("twice"))
        #expect(message([.uint32("general.alignment", 48)]).contains("general.alignment"))
        #expect(message([], [ok], bytes: 67).contains("'ok'"))
        #expect(message([], [GGUFTensorPlan(name: "ragged", shape: [2, 31], kind: .q4_0)]).contains("'ragged'"))
        #expect(message([], [ok, ok]).contains("'ok'"))
        #expect(message([], [ok]) == "written")
    }
}
