import Foundation
import Testing
import SlimCore
import SlimOpenCL

/// `Kernels/tuning.json` (issue #18): read strictly, matched by the most
/// specific row, every field a build option or work-group size of some kernel.
@Suite struct TuningTableTests {
    /// A row of `tuning.json` with `match` and, optionally, one section changed.
    static func row(_ name: String, match: String, gemm: String = #"{"variant": "tiled", "TS": 32, "WPT": 8, "PACK_FROM_M": 16}"#,
                    extra: String = "") -> String {
        """
        {"name": "\(name)", "why": "test", "match": \(match), "gemm": \(gemm), "rows": {"LS": 64}, "elementwise": {"LS": 64},
         "qgemm": {"TM": 8, "GEMV_LS": 32, "BLOCKED_LS": 16}, "attention": {"KEY_TILE": 16, "KEY_TILE_WIDE": 8},
         "helpers": {"LS": 64}\(extra)}
        """
    }

    static func table(_ rows: [String]) throws -> TuningTable {
        try TuningTable(json: Data(#"{"rows": [\#(rows.joined(separator: ","))]}"#.utf8), origin: "test.json")
    }

    @Test func shippedTableHasADefaultPerDeviceTypeAndUniqueNames() throws {
        let table = try TuningTable.shipped()
        let names = table.rows.map(\.tuning.name)
        #expect(Set(names).count == names.count && names.contains("cpu") && names.contains("gpu"))
        #expect(table.rows.first { $0.tuning.name == "cpu" }?.match.type == .cpu)
        #expect(table.rows.contains { $0.match == TuningTable.Match() }, "a row without conditions serves every other device")
        if let device = Subjects.openCLDevice, device.type == .cpu, ProcessInfo.processInfo.environment["SLIM_TUNING"] != "tuned" {
            #expect(table.match(device).tuning.name == "cpu")
        }
    }

    @Test func theMostSpecificMatchingRowWins() throws {
        let device = try #require(Subjects.openCLDevice, "needs an OpenCL device")
        let type = device.type.rawValue, vendor = String(device.vendor.prefix(4))
        let rows = [Self.row("any", match: "{}"), Self.row("type", match: #"{"type": "\#(type)"}"#),
                    Self.row("vendor", match: #"{"type": "\#(type)", "vendor": "\#(vendor.uppercased())"}"#),
                    Self.row("other-name", match: #"{"type": "\#(type)", "vendor": "\#(vendor)", "device": "no such *"}"#),
                    Self.row("too-big", match: #"{"type": "\#(type)", "vendor": "\#(vendor)", "min_compute_units": 100000}"#)]
        #expect(try Self.table(rows).match(device).tuning.name == "vendor")
        let named = rows + [Self.row("glob", match: #"{"type": "\#(type)", "vendor": "\#(vendor)", "device": "\#(device.name.prefix(3).lowercased())*"}"#)]
        #expect(try Self.table(named).match(device).tuning.name == "glob")
        #expect(try Self.table([Self.row("any", match: "{}")]).match(device).tuning.name == "any")
    }

    @Test func badTablesAreErrorsNamingRowAndKey() throws {
        func message(_ rows: [String]) -> String {
            do { _ = try Self.table(rows); return "loaded" } catch { return "\(error)" }
        }
        let any = Self.row("any", match: "{}")
        #expect(message([any, Self.row("typo", match: "{}", extra: #", "qgemmm": {}"#)]).contains(#"unknown key "qgemmm""#))
        #expect(message([Self.row("x", match: #"{"typ": "gpu"}"#)]).contains(#"row 0 match: unknown key "typ""#))
        #expect(message([Self.row("x", match: "{}", gemm: #"{"variant": "tiled", "TS": 32, "WPT": 5, "PACK_FROM_M": 16}"#)])
            .contains("TS 32 is not a multiple of WPT 5"))
        #expect(message([Self.row("x", match: "{}", gemm: #"{"variant": "tiles", "TS": 32, "WPT": 8, "PACK_FROM_M": 16}"#)])
            .contains("variant 'tiles'"))
        #expect(message([Self.row("x", match: "{}", gemm: #"{"variant": "tiled", "TS": 32, "PACK_FROM_M": 16}"#)])
            .contains(#"row 0 gemm: missing key "WPT""#))
        #expect(message([Self.row("x", match: #"{"type": "gpu"}"#)]).contains("no row without conditions"))
        #expect(message([any, any]).contains("two rows are called 'any'"))
        #expect(message([Self.row("x", match: #"{"type": "tpu"}"#)]).contains("type 'tpu'"))
    }

    /// A row written out and read back is the same row (what `slim tune` stores).
    @Test func rowsRoundTripThroughJSON() throws {
        for (_, row) in try DeviceTuning.named {
            var object = row.jsonObject
            object["match"] = [String: Any]()
            object["why"] = "round trip"
            let data = try JSONSerialization.data(withJSONObject: ["rows": [object]])
            #expect(try TuningTable(json: data, origin: "round trip").rows[0].tuning == row)
        }
    }
}
