import Foundation
import SlimCore
import SlimModel
import Testing

/// Builds GGUF files byte by byte. Only the tests need a writer, so it lives here.
enum TestGGUF {
    /// A metadata value with its on-disk type.
    indirect enum Value {
        case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float), bool(Bool)
        case string(String), array(type: UInt32, [Value]), u64(UInt64), i64(Int64), f64(Double)
        /// A string's bytes as given, valid UTF-8 or not.
        case rawString([UInt8])

        var type: UInt32 {
            switch self {
            case .u8: 0
            case .i8: 1
            case .u16: 2
            case .i16: 3
            case .u32: 4
            case .i32: 5
            case .f32: 6
            case .bool: 7
            case .string, .rawString: 8
            case .array: 9
            case .u64: 10
            case .i64: 11
            case .f64: 12
            }
        }

        func write(to d: inout Data) {
            switch self {
            case let .u8(v): d.le(v)
            case let .i8(v): d.le(v)
            case let .u16(v): d.le(v)
            case let .i16(v): d.le(v)
            case let .u32(v): d.le(v)
            case let .i32(v): d.le(v)
            case let .f32(v): d.le(v.bitPattern)
            case let .bool(v): d.le(UInt8(v ? 1 : 0))
            case let .string(s): d.ggufString(Array(s.utf8))
            case let .rawString(bytes): d.ggufString(bytes)
            case let .array(type, values):
                d.le(type)
                d.le(UInt64(values.count))
                for v in values { v.write(to: &d) }
            case let .u64(v): d.le(v)
            case let .i64(v): d.le(v)
            case let .f64(v): d.le(v.bitPattern)
            }
        }
    }

    struct Tensor {
        var name: String
        /// ggml type number: 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, …
        var type: UInt32
        /// Innermost first, as GGUF stores them.
        var dims: [UInt64]
        var data: [UInt8]
        /// Overrides the offset the writer would pick (to build broken files).
        var offset: UInt64? = nil
    }

    /// A whole file: header, metadata, tensor descriptions, padding, data (each tensor aligned).
    static func file(version: UInt32 = 3, metadata: [(String, Value)] = [], tensors: [Tensor] = [], alignment: Int = 32) -> Data {
        var d = Data("GGUF".utf8)
        d.le(version)
        d.le(UInt64(tensors.count))
        d.le(UInt64(metadata.count))
        for (key, value) in metadata {
            d.ggufString(Array(key.utf8))
            d.le(value.type)
            value.write(to: &d)
        }
        var offsets: [Int] = [], next = 0
        for t in tensors {
            offsets.append(next)
            next = (next + t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, offset) in zip(tensors, offsets) {
            d.ggufString(Array(t.name.utf8))
            d.le(UInt32(t.dims.count))
            for n in t.dims { d.le(n) }
            d.le(t.type)
            d.le(t.offset ?? UInt64(offset))
        }
        d.pad(to: alignment)
        for t in tensors {
            d.append(contentsOf: t.data)
            d.pad(to: alignment)
        }
        return d
    }

    static func parse(_ data: Data, path: String = "/test/model.gguf") throws -> GGUFFile {
        try GGUFFile(MappedFile(data: data, path: path))
    }
}

extension Data {
    mutating func le<T: FixedWidthInteger>(_ v: T) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func ggufString(_ bytes: [UInt8]) {
        le(UInt64(bytes.count))
        append(contentsOf: bytes)
    }
    mutating func pad(to alignment: Int) { append(contentsOf: [UInt8](repeating: 0, count: (alignment - count % alignment) % alignment)) }
}

/// Asserts `body` throws `.malformedFile` for `path` and that the message mentions every string of `mentions`.
func expectMalformed(_ path: String, mentions: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected a malformed-file error mentioning \(mentions)", sourceLocation: sourceLocation)
    } catch let SlimError.malformedFile(p, detail) {
        #expect(p == path, "the error names \(p), not \(path)", sourceLocation: sourceLocation)
        for m in mentions {
            #expect(detail.contains(m), "'\(detail)' does not mention '\(m)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a malformed-file error, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct GGUFTests {
    static let path = "/test/model.gguf"

    /// fp16 bytes, little-endian, written out by hand: 0.5 = 0x3800, 0.25 = 0x3400, −2 = 0xC000, −1.5 = 0xBE00.
    static let half0_5: [UInt8] = [0x00, 0x38], half0_25: [UInt8] = [0x00, 0x34]
    static let halfMinus2: [UInt8] = [0x00, 0xC0], halfMinus1_5: [UInt8] = [0x00, 0xBE]

    @Test func smolLM2ListsItsTensorsAndMetadata() throws {
        let gguf = try GGUFFile(contentsOf: try TestAssets.smolLM2)
        #expect(gguf.version == 3)
        #expect(gguf.architecture == "llama")
        #expect(gguf.metadata["llama.block_count"]?.int == 30)
        #expect(gguf.value(forArchitectureKey: "embedding_length")?.int == 576)
        #expect(gguf.alignment == 32, "no general.alignment key: the default")
        // The numbers llama.cpp's gguf-py reports for this file.
        #expect(gguf.tensors.count == 272)
        #expect(Set(gguf.tensors.map(\.kind)) == [.q4_1, .q8_0, .f32])
        #expect(gguf.tensors.reduce(0) { $0 + $1.elementCount } == 134_515_008)
        let tokens = try #require(gguf.metadata["tokenizer.ggml.tokens"]?.strings)
        #expect(tokens.count == 49152 && tokens[0] == "<|endoftext|>")
        #expect(gguf.metadata["tokenizer.ggml.token_type"]?.ints?.count == 49152)
        #expect(gguf.metadataKeys.first == "general.architecture" && gguf.metadataKeys.count == gguf.metadata.count)

        let embedding = try gguf.tensor(named: "token_embd.weight")
        #expect(embedding.kind == .q8_0 && embedding.shape == [49152, 576], "GGUF's ne [576, 49152] reversed")
        let norm = try gguf.floats(try gguf.tensor(named: "blk.0.attn_norm.weight"))
        #expect(norm.count == 576 && norm.allSatisfy(\.isFinite))
    }

    /// The first Q4_1 block of a real tensor, decoded by hand from its 20 bytes.
    @Test func smolLM2Q4_1BlockDecodesByHand() throws {
        let gguf = try GGUFFile(contentsOf: try TestAssets.smolLM2)
        let q = try gguf.tensor(named: "blk.0.attn_q.weight")
        #expect(q.kind == .q4_1 && q.shape == [576, 576])
        let raw = Array(try gguf.bytes(of: q).prefix(20))
        let d = Float(Float16(bitPattern: UInt16(raw[0]) | UInt16(raw[1]) << 8))
        let m = Float(Float16(bitPattern: UInt16(raw[2]) | UInt16(raw[3]) << 8))
        let low = raw[4..<20].map { d * Float($0 & 0xF) + m }, high = raw[4..<20].map { d * Float($0 >> 4) + m }
        let values = try gguf.floats(q)
        #expect(values.count == 576 * 576)
        #expect(Array(values[0..<32]) == low + high)
    }

    @Test func handBuiltBlocksDecodeExactly() throws {
        // Q8_0: d = 0.5, q_j = j − 16, so w_j = 0.5 (j − 16); second row d = −1.5, q alternating 127, −127.
        let q8Row0: [UInt8] = Self.half0_5 + (0..<32).map { (j: Int) -> UInt8 in UInt8(bitPattern: Int8(j - 16)) }
        let q8Row1: [UInt8] = Self.halfMinus1_5 + (0..<32).map { (j: Int) -> UInt8 in j % 2 == 0 ? 127 : UInt8(bitPattern: -127) }
        let q8Expected: [Float] = (0..<32).map { 0.5 * Float($0 - 16) } + (0..<32).map { $0 % 2 == 0 ? -190.5 : 190.5 }
        // Q4_0: d = 0.25, byte j = j | (15 − j) << 4: w_j = 0.25 (j − 8), w_{j+16} = 0.25 (15 − j − 8).
        let q40: [UInt8] = Self.half0_25 + (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | UInt8(15 - j) << 4 }
        let q40Expected: [Float] = (0..<16).map { 0.25 * Float($0 - 8) } + (0..<16).map { 0.25 * Float(7 - $0) }
        // Q4_1: d = 0.5, m = −2, byte j = (15 − j) | j << 4: w_j = 0.5 (15 − j) − 2, w_{j+16} = 0.5 j − 2.
        let q41: [UInt8] = Self.half0_5 + Self.halfMinus2 + (0..<16).map { (j: Int) -> UInt8 in UInt8(15 - j) | UInt8(j) << 4 }
        let q41Expected: [Float] = (0..<16).map { 0.5 * Float(15 - $0) - 2 } + (0..<16).map { 0.5 * Float($0) - 2 }
        #expect(q8Expected[0] == -8 && q8Expected[31] == 7.5 && q40Expected[0] == -2 && q40Expected[16] == 1.75)
        #expect(q41Expected[0] == 5.5 && q41Expected[16] == -2 && q41Expected[31] == 5.5)

        let gguf = try TestGGUF.parse(TestGGUF.file(tensors: [
            .init(name: "q8", type: 8, dims: [32, 2], data: q8Row0 + q8Row1),
            .init(name: "q4_0", type: 2, dims: [32], data: q40),
            .init(name: "q4_1", type: 3, dims: [32, 1], data: q41),
        ]))
        let q8 = try gguf.tensor(named: "q8")
        #expect(q8.kind == .q8_0 && q8.shape == [2, 32] && q8.byteRange.count == 68)
        #expect(try gguf.floats(q8) == q8Expected)
        #expect(try gguf.floats(try gguf.tensor(named: "q4_0")) == q40Expected)
        #expect(try gguf.tensor(named: "q4_1").shape == [1, 32])
        #expect(try gguf.floats(try gguf.tensor(named: "q4_1")) == q41Expected)
    }

    @Test func plainTensorsReadBack() throws {
        let f32: [Float] = [1, -2.5, 3.25, 0, 1e-3, -7]
        let f16: [UInt8] = Self.half0_5 + Self.halfMinus2  // 0.5, −2
        let i32: [Int32] = [7, -1, Int32.max]
        let gguf = try TestGGUF.parse(TestGGUF.file(tensors: [
            .init(name: "a", type: 0, dims: [3, 2], data: f32.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }),
            .init(name: "b", type: 1, dims: [2], data: f16),
            .init(name: "c", type: 26, dims: [3], data: i32.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }),
            .init(name: "bf", type: 30, dims: [1], data: [0x80, 0x3F]),  // bf16 1.0 = 0x3F80
        ]))
        #expect(gguf.tensors.map(\.name) == ["a", "b", "c", "bf"])
        #expect(try gguf.tensor(named: "a").shape == [2, 3])
        #expect(try gguf.floats(try gguf.tensor(named: "a")) == f32)
        #expect(try gguf.floats(try gguf.tensor(named: "b")) == [0.5, -2])
        #expect(try gguf.int64s(try gguf.tensor(named: "c")) == [7, -1, Int64(Int32.max)])
        #expect(try gguf.floats(try gguf.tensor(named: "bf")) == [1])
        for t in gguf.tensors { #expect(t.byteRange.lowerBound % 32 == 0, "\(t.name) is aligned") }
        #expect(throws: SlimError.self) { _ = try gguf.floats(try gguf.tensor(named: "c")) }
    }

    @Test func everyValueTypeReadsBack() throws {
        let metadata: [(String, TestGGUF.Value)] = [
            ("u8", .u8(200)), ("i8", .i8(-100)), ("u16", .u16(60000)), ("i16", .i16(-30000)),
            ("u32", .u32(4_000_000_000)), ("i32", .i32(-2_000_000_000)), ("f32", .f32(0.25)), ("bool", .bool(true)),
            ("string", .string("héllo")), ("u64", .u64(UInt64.max)), ("i64", .i64(Int64.min)), ("f64", .f64(-1e300)),
            ("strings", .array(type: 8, [.string("a"), .string(""), .string("ü")])),
            ("nested", .array(type: 9, [.array(type: 5, [.i32(1), .i32(2)]), .array(type: 5, [])])),
            ("scores", .array(type: 6, [.f32(-1.5), .f32(2)])),
            ("empty", .array(type: 8, [])),
        ]
        let gguf = try TestGGUF.parse(TestGGUF.file(version: 2, metadata: metadata))
        #expect(gguf.version == 2 && gguf.tensors.isEmpty)
        #expect(gguf.metadataKeys == metadata.map(\.0))
        let m = gguf.metadata
        #expect(m["u8"] == .uint(200) && m["i8"] == .int(-100) && m["u16"]?.int == 60000 && m["i16"]?.int == -30000)
        #expect(m["u32"]?.int == 4_000_000_000 && m["i32"]?.int == -2_000_000_000 && m["f32"]?.double == 0.25)
        #expect(m["bool"]?.bool == true && m["string"]?.string == "héllo")
        #expect(m["u64"] == .uint(UInt64.max) && m["u64"]?.int == nil, "too big for Int: no silent wrap")
        #expect(m["i64"] == .int(Int64.min) && m["f64"]?.double == -1e300)
        #expect(m["strings"]?.strings == ["a", "", "ü"])
        #expect(m["nested"] == .array([.array([.int(1), .int(2)]), .array([])]))
        #expect(m["scores"]?.floats == [-1.5, 2] && m["scores"]?.strings == nil)
        #expect(m["empty"]?.strings == [])
    }

    @Test func customAlignmentIsHonoured() throws {
        let data = TestGGUF.file(metadata: [("general.alignment", .u32(64))],
                                 tensors: [.init(name: "x", type: 0, dims: [3], data: [UInt8](repeating: 0, count: 12)),
                                           .init(name: "y", type: 0, dims: [1], data: [0, 0, 0x80, 0x3F])],
                                 alignment: 64)
        let gguf = try TestGGUF.parse(data)
        #expect(gguf.alignment == 64 && gguf.dataOffset % 64 == 0)
        #expect(try gguf.floats(try gguf.tensor(named: "y")) == [1])
        #expect(try gguf.tensor(named: "y").byteRange.lowerBound == gguf.dataOffset + 64)
        for bad: TestGGUF.Value in [.u32(0), .u32(48), .string("32"), .i32(-32)] {
            expectMalformed(Self.path, mentions: ["general.alignment"]) {
                _ = try TestGGUF.parse(TestGGUF.file(metadata: [("general.alignment", bad)]))
            }
        }
    }

    // MARK: - Files that must be refused

    static let oneTensor = TestGGUF.Tensor(name: "w", type: 0, dims: [4], data: [UInt8](repeating: 0, count: 16))

    @Test func badMagicAndVersions() {
        var wrongMagic = TestGGUF.file()
        wrongMagic[0] = UInt8(ascii: "X")
        expectMalformed(Self.path, mentions: ["not a GGUF file"]) { _ = try TestGGUF.parse(wrongMagic) }
        expectMalformed(Self.path, mentions: ["version 1"]) { _ = try TestGGUF.parse(TestGGUF.file(version: 1)) }
        expectMalformed(Self.path, mentions: ["big-endian"]) { _ = try TestGGUF.parse(TestGGUF.file(version: UInt32(3).byteSwapped)) }
        expectMalformed(Self.path, mentions: ["version 7"]) { _ = try TestGGUF.parse(TestGGUF.file(version: 7)) }
        expectMalformed(Self.path, mentions: ["magic"]) { _ = try TestGGUF.parse(Data("GG".utf8)) }
        expectMalformed(Self.path) { _ = try TestGGUF.parse(Data()) }
    }

    @Test func invalidUTF8AndUnknownTypes() {
        expectMalformed(Self.path, mentions: ["'general.name'", "UTF-8"]) {
            _ = try TestGGUF.parse(TestGGUF.file(metadata: [("general.name", .rawString([0x61, 0xFF, 0x62]))]))
        }
        expectMalformed(Self.path, mentions: ["'k'", "type 13"]) {
            var d = TestGGUF.file(metadata: [("k", .u8(1))])
            d[33] = 13  // the value type: after magic, version, two counts, the key's length and "k"
            _ = try TestGGUF.parse(d)
        }
        expectMalformed(Self.path, mentions: ["tensor 'w'", "unknown ggml type 4"]) {
            _ = try TestGGUF.parse(TestGGUF.file(tensors: [.init(name: "w", type: 4, dims: [4], data: [])]))
        }
        expectMalformed(Self.path, mentions: ["duplicated", "twice"]) {
            _ = try TestGGUF.parse(TestGGUF.file(metadata: [("duplicated", .u8(1)), ("duplicated", .u8(2))]))
        }
    }

    @Test func unsupportedTensorTypeNamesTheTensorAndType() {
        do {
            _ = try TestGGUF.parse(TestGGUF.file(tensors: [.init(name: "blk.0.ffn_up.weight", type: 13, dims: [256], data: [])]))
            Issue.record("a Q5_K tensor was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.contains("blk.0.ffn_up.weight") && message.contains("Q5_K") && message.contains("13") && message.contains(Self.path), "\(message)")
        }
    }

    /// Q4_K (ggml type 12), Q6_K (14), Q5_0 (6) and Q5_1 (7) tensors made by llama.cpp's quantizer
    /// (Tests/Fixtures/kquants) read as floats equal to gguf's decode, and come
    /// back packed, byte for byte, for the quantized product; rows that are not
    /// whole (super-)blocks are refused by name.
    @Test func kQuantTensorsReadAndStayPacked() throws {
        let folder = try TestAssets.fixture("kquants")
        let rows = 3, columns = 512
        func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: folder.appendingPathComponent(name))) }
        func floats(_ name: String) throws -> [Float] {
            try bytes(name).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        for (type, kind, format, file) in [(UInt32(12), StoredKind.q4_K, QuantFormat.q4_K, "q4_k"), (14, .q6_K, .q6_K, "q6_k"),
                                           (6, .q5_0, .q5_0, "q5_0"), (7, .q5_1, .q5_1, "q5_1")] {
            let rowBytes = format.ggufRowBytes(columns: columns)!
            let data = Array(try bytes(file + ".bin")[0 ..< rows * rowBytes])
            let gguf = try TestGGUF.parse(TestGGUF.file(tensors: [.init(name: "blk.0.ffn_down.weight", type: type, dims: [UInt64(columns), UInt64(rows)], data: data)]))
            let t = try gguf.tensor(named: "blk.0.ffn_down.weight")
            #expect(t.kind == kind && t.shape == [rows, columns] && t.byteRange.count == rows * rowBytes)
            #expect(try gguf.floats(t) == Array(try floats(file + ".f32")[0 ..< rows * columns]), "\(format): floats equal gguf's decode")
            let packed = try TensorFileWeightStore(file: gguf).packed("blk.0.ffn_down.weight")
            #expect(packed?.format == format && packed?.rows == rows && packed?.columns == columns && packed?.encoded.data == data)
            let block = format.ggufBlockWeights!
            expectMalformed(Self.path, mentions: ["blk.0.ffn_down.weight", "\(block)"]) {
                _ = try TestGGUF.parse(TestGGUF.file(tensors: [.init(name: "blk.0.ffn_down.weight", type: type, dims: [UInt64(block + 16), 1],
                                                                    data: [UInt8](repeating: 0, count: format.ggufBlockBytes!))]))
            }
        }
    }

    @Test func truncatedFilesAndLyingCounts() {
        let whole = TestGGUF.file(metadata: [("general.architecture", .string("llama"))], tensors: [Self.oneTensor])
        // The file ends with the tensor's 16 bytes and 16 of padding: the last cut loses one byte of the tensor.
        for cut in [3, 10, 30, 50, 60, whole.count - 17] {
            expectMalformed(Self.path) { _ = try TestGGUF.parse(whole.prefix(cut)) }
        }
        var hugeCount = whole
        hugeCount.replaceSubrange(8..<16, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        expectMalformed(Self.path, mentions: ["tensor count"]) { _ = try TestGGUF.parse(hugeCount) }
        var lying = TestGGUF.file(metadata: [("a", .array(type: 8, []))])
        // The array's u64 length sits after the 24-byte preamble, key "a" (8 + 1) and two type numbers.
        lying.replaceSubrange(41..<49, with: [0, 0, 0, 0, 0, 0, 0, 0x10])
        expectMalformed(Self.path, mentions: ["length of 'a'"]) { _ = try TestGGUF.parse(lying) }
        // Arrays of arrays, 100 deep: legal syntax, refused before the stack is at risk.
        var deep = TestGGUF.Value.array(type: 5, [])
        for _ in 0..<100 { deep = .array(type: 9, [deep]) }
        expectMalformed(Self.path, mentions: ["deeper"]) { _ = try TestGGUF.parse(TestGGUF.file(metadata: [("deep", deep)])) }
    }

    @Test func badTensorDescriptions() {
        func refuse(_ tensors: [TestGGUF.Tensor], _ mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            expectMalformed(Self.path, mentions: mentions, sourceLocation: sourceLocation) { _ = try TestGGUF.parse(TestGGUF.file(tensors: tensors)) }
        }
        var t = Self.oneTensor
        t.offset = 64
        refuse([t], ["tensor 'w'", "run past"])
        t.offset = 4
        refuse([t], ["tensor 'w'", "alignment"])
        t.offset = UInt64.max - 31
        refuse([t], ["tensor 'w'"])
        refuse([.init(name: "w", type: 0, dims: [1, 1, 1, 1, 1], data: [])], ["tensor 'w'", "5 dimensions"])
        refuse([.init(name: "w", type: 0, dims: [UInt64.max], data: [])], ["tensor 'w'"])
        refuse([.init(name: "w", type: 0, dims: [1 << 40, 1 << 40], data: [])], ["tensor 'w'", "too many elements"])
        refuse([.init(name: "w", type: 8, dims: [33], data: [UInt8](repeating: 0, count: 68))], ["tensor 'w'", "32"])
        refuse([Self.oneTensor, Self.oneTensor], ["tensor 'w'", "twice"])
        var overlapping = Self.oneTensor
        overlapping.name = "v"
        overlapping.offset = 0
        refuse([Self.oneTensor, overlapping], ["'w'", "'v'", "overlap"])
        expectMalformed(Self.path, mentions: ["missing tensor 'nope'"]) {
            _ = try TestGGUF.parse(TestGGUF.file(tensors: [Self.oneTensor])).tensor(named: "nope")
        }
    }
}
