import Foundation
import SlimCore
import TestSupport
import Testing

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's crosses many blocks and the length encoding.
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Both compression functions (portable C and the x86 SHA extensions, where
    /// this CPU has them) on the FIPS vectors, and on random messages fed in
    /// random pieces: every length 0…200 (each padding case) and a few long ones.
    @Test(.seeded) func everyPathAgreesWithThePortableOneAndTheVectors() {
        let paths = SHA256.Path.allCases.filter { $0 == .portable || SHA256.Path.best == $0 }
        print("SHA-256 paths checked: \(paths) (best on this CPU: \(SHA256.Path.best))")
        for path in paths {
            var h = SHA256(path: path)
            h.update(Array("abc".utf8))
            #expect(h.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "\(path)")
            var million = SHA256(path: path)
            million.update([UInt8](repeating: 0x61, count: 1_000_000))
            #expect(million.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "\(path)")
        }
        var rng = SplitMix64(seed: TestSeed.current)
        for length in Array(0...200) + [4095, 65_537, 1_000_003] {
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var whole = SHA256(path: .portable)
            whole.update(message)
            let want = whole.hexDigest()
            for path in paths {
                var pieces = SHA256(path: path), at = 0
                while at < length {
                    let n = min(length - at, Int(rng.next() % 150))
                    pieces.update(message[at..<at + n])
                    at += n
                }
                #expect(pieces.hexDigest() == want, "\(path), \(length) bytes in random pieces")
            }
        }
    }

    @Test func incrementalEqualsOneShot() {
        var h = SHA256()
        h.update(Array("hello ".utf8))
        h.update(Array(repeating: 0x20, count: 100))
        h.update("world")
        let oneShot = SHA256.hex(Array("hello ".utf8) + Array(repeating: 0x20, count: 100) + Array("world".utf8))
        let incremental = h.finalize().map { String(format: "%02x", $0) }.joined()
        // One-shot hashing is update-then-finalize too: pin both to Python's hashlib, not only to each other.
        #expect(oneShot == "f8ef4ad2e74572d2bc90c2531dcbb6cc77a50257cbe4fa92da51199e9c95a3cc")
        #expect(incremental == oneShot)
    }
}

@Suite struct ShapeAndTypes {
    @Test func shapeParsingAndCounts() {
        #expect(Shape(parsing: "64x4096x4096") == [64, 4096, 4096])
        #expect(Shape(parsing: "64x") == nil)
        #expect(Shape(parsing: "0x3") == nil)
        let s: Shape = [2, 3, 5]
        #expect(s.elementCount == 30 && s.outerCount == 6 && s.innermost == 5 && s[-1] == 5)
        #expect(DType.q4.byteCount(elements: 7) == 4)
        #expect(DType.f32.byteCount(elements: 7) == 28)
    }

    @Test func gemmShapeResolution() throws {
        let gemm = GemmShape(m: 64, n: 4096, k: 4096)
        #expect(gemm.flops == 2 * 64 * 4096 * 4096)
    }

    @Test func backendChoiceParsing() throws {
        #expect(try BackendChoice(parsing: "auto") == .auto)
        #expect(try BackendChoice(parsing: "OpenCL") == .opencl)
        #expect(throws: SlimError.unknownBackend("metal")) { try BackendChoice(parsing: "metal") }
    }

    @Test func layoutValidation() throws {
        let dense = try BlockSparseLayout.dense(queryLength: 100, keyLength: 100, blockSize: 32)
        #expect(dense.keptBlocks == 16 && dense.queryBlocks == 4)
        #expect(throws: SlimError.self) {
            try BlockSparseLayout(queryLength: 64, keyLength: 64, blockSize: 32, rows: [[1, 0], [0]])
        }
    }

    @Test func errorsSayWhatWhereAndWhy() {
        let e = SlimError.openCL(call: "clCreateBuffer", status: -4, statusName: "CL_MEM_OBJECT_ALLOCATION_FAILURE", detail: "'w' [4096x4096] f32")
        #expect(e.description == "clCreateBuffer failed with CL_MEM_OBJECT_ALLOCATION_FAILURE (-4): 'w' [4096x4096] f32")
    }
}

@Suite struct XXHash64Tests {
    /// The reference implementation's published values, covering the empty input, the
    /// 1-byte tail, the 4-byte tail and the 32-byte stripes.
    @Test func knownVectors() {
        func h(_ s: String) -> UInt64 { Array(s.utf8).withUnsafeBytes { XXHash64.hash($0) } }
        #expect(h("") == 0xEF46_DB37_51D8_E999)
        #expect(h("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(h("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(h("Nobody inspects the spammish repetition") == 0xFBCE_A83C_8A37_8BF1)
        // 32 + 8 + 4 + 1 bytes: every tail at once. The low 32 bits are what `zstd --check`, an
        // independent implementation, stores at the end of its frame for this input (0x7CDD5D2E).
        #expect(h("012345678901234567890123456789012345678901234") == 0x937A_5618_7CDD_5D2E)
    }
}

/// Foundation's file and JSON failures become SlimErrors in words.
@Suite struct FileErrorTests {
    func error(_ body: () throws -> Void) -> (any Error)? {
        do { try body(); return nil } catch { return error }
    }

    @Test func foundationFailuresSayWhereWhatAndWhy() {
        let folder = error { _ = try withFileErrors("read", path: "/tmp") { try Data(contentsOf: URL(fileURLWithPath: "/tmp")) } }
        #expect(folder as? SlimError == .io(path: "/tmp", detail: "cannot read: is a directory"))
        let missing = error { _ = try FileReading.data(atPath: "/nonexistent/x.txt") }
        #expect(missing as? SlimError == .io(path: "/nonexistent/x.txt", detail: "cannot read: no such file or directory"))
        // Foundation names another file (a temporary one beside the target): both appear.
        let temporary = error {
            try withFileErrors("write", path: "/nonexistent/out") { try Data().write(to: URL(fileURLWithPath: "/nonexistent/.out.tmp")) }
        }
        #expect(temporary as? SlimError == .io(path: "/nonexistent/out", detail: "cannot write: no such file or directory (/nonexistent/.out.tmp)"))
    }

    @Test func theCommandLineNetMapsOnlyFoundationErrors() {
        struct Other: Error {}
        #expect(SlimError.fromFoundation(Other()) is Other)
        #expect(SlimError.fromFoundation(SlimError.invalidArgument("x")) as? SlimError == .invalidArgument("x"))
        let raw = error { _ = try Data(contentsOf: URL(fileURLWithPath: "/nonexistent/y")) }!
        #expect(SlimError.fromFoundation(raw) as? SlimError == .io(path: "/nonexistent/y", detail: "cannot read: no such file or directory"))
    }

    @Test func jsonParseErrorsSayWhy() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("slim-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("{\"a\": 1,".utf8).write(to: url)
        #expect(error { _ = try FileReading.jsonObject(at: url) } as? SlimError
                == .malformedFile(path: url.path, detail: "not valid JSON: unexpected end of file during JSON parse"))
        try Data("[1]".utf8).write(to: url)
        #expect(error { _ = try FileReading.jsonObject(at: url) } as? SlimError == .malformedFile(path: url.path, detail: "not a JSON object"))
    }

    /// JSON has no NaN: a diverged loss is written as null instead of failing the whole output.
    @Test func jsonOutputWritesNonFiniteNumbersAsNull() throws {
        let value: [String: Any] = ["loss": Double.nan, "curve": [1.5, Double.infinity], "steps": 3, "f": Float.nan, "ok": true]
        let text = String(decoding: try JSONOutput.data(value, options: [.sortedKeys]), as: UTF8.self)
        #expect(text == #"{"curve":[1.5,null],"f":null,"loss":null,"ok":true,"steps":3}"#)
    }
}
