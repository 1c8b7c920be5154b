import Foundation
import Kernels
import SlimCore

/// `Kernels/tuning.json`: the shipped rows of kernel shapes and the device
/// conditions each one matches. Read strictly: an unknown section or key, a
/// missing one, or a value out of range is an error naming the file, row and key.
public struct TuningTable: Sendable {
    public struct Row: Sendable {
        public let tuning: DeviceTuning
        public let match: Match
        public let why: String
    }

    /// The conditions a device must meet for a row; the matching row with the most conditions wins.
    public struct Match: Sendable, Equatable {
        public var type: OpenCLDevice.DeviceType?
        /// A case-insensitive substring of the vendor string.
        public var vendor: String?
        /// A case-insensitive glob (`*`, `?`) over the device name.
        public var device: String?
        public var minComputeUnits: Int?
        public var minLocalMemoryKiB: Int?
        public var subGroupWidth: Int?

        /// No conditions: matches every device.
        public init() {}

        var conditions: Int {
            [type != nil, vendor != nil, device != nil, minComputeUnits != nil, minLocalMemoryKiB != nil, subGroupWidth != nil]
                .filter { $0 }.count
        }

        func accepts(_ d: OpenCLDevice) -> Bool {
            if let type, d.type != type { return false }
            if let vendor, !d.vendor.lowercased().contains(vendor.lowercased()) { return false }
            if let device, !glob(device.lowercased(), d.name.lowercased()) { return false }
            if let minComputeUnits, d.computeUnits < minComputeUnits { return false }
            if let minLocalMemoryKiB, d.localMemoryBytes < minLocalMemoryKiB * 1024 { return false }
            if let subGroupWidth, d.subGroupWidth != subGroupWidth { return false }
            return true
        }
    }

    public let rows: [Row]
    /// Where the table was read from ("embedded tuning.json" or a path under SLIM_KERNELS_DIR).
    public let origin: String

    /// The table built into slim, or `SLIM_KERNELS_DIR/tuning.json` when that is set.
    public static func shipped() throws -> TuningTable {
        guard let text = KernelSource.tuningText() else {
            throw SlimError.io(path: (KernelSource.folder ?? "") + "/tuning.json", detail: "SLIM_KERNELS_DIR has no readable tuning.json (copy Kernels/)")
        }
        return try TuningTable(json: Data(text.source.utf8), origin: text.origin)
    }

    public init(json: Data, origin: String) throws {
        self.origin = origin
        let top = try JSONFields(json, what: origin)
        let list = try top.array("rows")
        try top.finish(allowing: ["about"])
        guard !list.isEmpty else { throw SlimError.invalidArgument("\(origin): \"rows\" is empty") }
        rows = try list.enumerated().map { i, value in
            guard let object = value as? [String: Any] else { throw SlimError.invalidArgument("\(origin): row \(i) is not an object") }
            let fields = JSONFields(object, what: "\(origin) row \(i)")
            let tuning = try DeviceTuning(fields)
            let match = try Match(try fields.object("match"))
            let why = try fields.string("why")
            try fields.finish()
            return Row(tuning: tuning, match: match, why: why)
        }
        var seen = Set<String>()
        for row in rows where !seen.insert(row.tuning.name).inserted {
            throw SlimError.invalidArgument("\(origin): two rows are called '\(row.tuning.name)'")
        }
        guard rows.contains(where: { $0.match.conditions == 0 }) else {
            throw SlimError.invalidArgument("\(origin): no row without conditions, so some device would have no row")
        }
    }

    /// The matching row with the most conditions (the first of equals).
    public func match(_ device: OpenCLDevice) -> Row {
        var best: Row? = nil
        for row in rows where row.match.accepts(device) && row.match.conditions > (best?.match.conditions ?? -1) { best = row }
        return best!  // a row without conditions accepts every device (checked at load)
    }
}

extension TuningTable.Match {
    init(_ f: JSONFields) throws {
        if let t = try f.optionalString("type") {
            guard let parsed = OpenCLDevice.DeviceType(rawValue: t) else {
                throw SlimError.invalidArgument("\(f.what): type '\(t)' is none of gpu, cpu, accelerator, other")
            }
            type = parsed
        }
        vendor = try f.optionalString("vendor")
        device = try f.optionalString("device")
        minComputeUnits = try f.optionalInt("min_compute_units")
        minLocalMemoryKiB = try f.optionalInt("min_local_memory_kib")
        subGroupWidth = try f.optionalInt("sub_group_width")
        try f.finish()
    }

    var jsonObject: [String: Any] {
        var out: [String: Any] = [:]
        out["type"] = type?.rawValue
        out["vendor"] = vendor
        out["device"] = device
        out["min_compute_units"] = minComputeUnits
        out["min_local_memory_kib"] = minLocalMemoryKiB
        out["sub_group_width"] = subGroupWidth
        return out
    }
}

extension DeviceTuning {
    /// The shape sections of a row (`gemm`, `rows`, `elementwise`, `qgemm`, `attention`, `helpers`) and its name.
    init(_ f: JSONFields) throws {
        name = try f.string("name")
        let g = try f.object("gemm")
        switch try g.string("variant") {
        case "tiled":
            let ts = try g.int("TS", 1...64), wpt = try g.int("WPT", 1...64)
            guard ts % wpt == 0 else { throw SlimError.invalidArgument("\(g.what): TS \(ts) is not a multiple of WPT \(wpt)") }
            gemm = .tiled(tile: ts, workPerThread: wpt)
        case "blocked":
            gemm = .blocked(rows: try g.int("MR", 1...32), width: try g.int("VW", [4, 8, 16]))
        case let other:
            throw SlimError.invalidArgument("\(g.what): variant '\(other)' is neither tiled nor blocked")
        }
        gemmPackFromRows = try g.int("PACK_FROM_M", 1...1_000_000)
        try g.finish()
        let r = try f.object("rows")
        rowWorkGroup = try r.int("LS", powersOfTwo)
        try r.finish()
        let e = try f.object("elementwise")
        elementwiseWorkGroup = try e.int("LS", 1...1024)
        try e.finish()
        let q = try f.object("qgemm")
        quantTokens = try q.int("TM", 1...16)
        gemvWorkGroup = try q.int("GEMV_LS", powersOfTwo)
        blockedWorkGroup = try q.int("BLOCKED_LS", 1...1024)
        try q.finish()
        let a = try f.object("attention")
        keyTile = try a.int("KEY_TILE", 1...64)
        keyTileWide = try a.int("KEY_TILE_WIDE", 1...64)
        try a.finish()
        let h = try f.object("helpers")
        helperWorkGroup = try h.int("LS", 1...1024)
        try h.finish()
        if f.has("attention_tiles") {
            let t = try f.object("attention_tiles")
            attention = AttentionTiles(lanes: try t.int("LANES", powersOfTwo), ownRows: try t.int("OWN_ROWS", 1...256),
                                       rowsPerItem: try t.int("ROWS_PER_ITEM", 1...64), streamRows: try t.int("STREAM_ROWS", 1...256),
                                       splitBelowGroups: try t.int("SPLIT_BELOW_GROUPS", 0...1_000_000),
                                       localBytes: try t.int("LOCAL_BYTES", 1024...1 << 20))
            try t.finish()
        }
    }

    /// The row as `tuning.json` writes it (`match` and `why` added by the caller).
    public var jsonObject: [String: Any] {
        let gemmSection: [String: Any] = switch gemm {
        case let .tiled(tile, wpt): ["variant": "tiled", "TS": tile, "WPT": wpt, "PACK_FROM_M": gemmPackFromRows]
        case let .blocked(rows, width): ["variant": "blocked", "MR": rows, "VW": width, "PACK_FROM_M": gemmPackFromRows]
        }
        var row: [String: Any] = [
            "name": name, "gemm": gemmSection, "rows": ["LS": rowWorkGroup], "elementwise": ["LS": elementwiseWorkGroup],
            "qgemm": ["TM": quantTokens, "GEMV_LS": gemvWorkGroup, "BLOCKED_LS": blockedWorkGroup],
            "attention": ["KEY_TILE": keyTile, "KEY_TILE_WIDE": keyTileWide], "helpers": ["LS": helperWorkGroup],
        ]
        if let t = attention {
            row["attention_tiles"] = ["LANES": t.lanes, "OWN_ROWS": t.ownRows, "ROWS_PER_ITEM": t.rowsPerItem, "STREAM_ROWS": t.streamRows,
                                      "SPLIT_BELOW_GROUPS": t.splitBelowGroups, "LOCAL_BYTES": t.localBytes]
        }
        return row
    }

    /// A short one-line account of the shapes, for `slim devices` and `slim tune`.
    public var summary: String {
        "gemm \(gemm.description), rows LS \(rowWorkGroup), elementwise LS \(elementwiseWorkGroup), "
            + "qgemm TM \(quantTokens) GEMV_LS \(gemvWorkGroup) BLOCKED_LS \(blockedWorkGroup), "
            + "attention KEY_TILE \(keyTile)/\(keyTileWide)"
            + (attention.map { ", attention tiles LANES \($0.lanes) OWN_ROWS \($0.ownRows) ROWS_PER_ITEM \($0.rowsPerItem) STREAM_ROWS \($0.streamRows)" } ?? "")
            + ", helpers LS \(helperWorkGroup)"
    }
}

private let powersOfTwo = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

/// A JSON object read key by key, remembering which keys were read so that
/// `finish` can name any key nobody asked for (a typo is an error, not a default).
struct JSONFields {
    let object: [String: Any]
    let what: String
    private let read = ReadKeys()

    private final class ReadKeys { var keys = Set<String>() }

    init(_ object: [String: Any], what: String) { (self.object, self.what) = (object, what) }

    init(_ data: Data, what: String) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw SlimError.invalidArgument("\(what): not a JSON object")
        }
        self.init(object, what: what)
    }

    private func value(_ key: String) throws -> Any {
        read.keys.insert(key)
        guard let v = object[key] else { throw SlimError.invalidArgument("\(what): missing key \"\(key)\"") }
        return v
    }

    func string(_ key: String) throws -> String {
        guard let s = try value(key) as? String else { throw SlimError.invalidArgument("\(what): \"\(key)\" is not a string") }
        return s
    }

    func optionalString(_ key: String) throws -> String? { object[key] == nil ? nil : try string(key) }

    func int(_ key: String, _ allowed: some RangeExpression<Int>) throws -> Int {
        let v = try value(key)
        guard let n = v as? NSNumber, n.doubleValue == Double(n.intValue), allowed.contains(n.intValue) else {
            throw SlimError.invalidArgument("\(what): \"\(key)\" is \(v), not a whole number in the allowed range")
        }
        return n.intValue
    }

    func int(_ key: String, _ allowed: [Int]) throws -> Int {
        let n = try int(key, Int.min...Int.max)
        guard allowed.contains(n) else {
            throw SlimError.invalidArgument("\(what): \"\(key)\" is \(n); allowed: \(allowed.map(String.init).joined(separator: ", "))")
        }
        return n
    }

    func has(_ key: String) -> Bool { object[key] != nil }
    func optionalInt(_ key: String) throws -> Int? { object[key] == nil ? nil : try int(key, 0...Int.max) }

    func object(_ key: String) throws -> JSONFields {
        guard let o = try value(key) as? [String: Any] else { throw SlimError.invalidArgument("\(what): \"\(key)\" is not an object") }
        return JSONFields(o, what: "\(what) \(key)")
    }

    func array(_ key: String) throws -> [Any] {
        guard let a = try value(key) as? [Any] else { throw SlimError.invalidArgument("\(what): \"\(key)\" is not a list") }
        return a
    }

    /// Fails on any key that was not read (besides `allowing`).
    func finish(allowing: Set<String> = []) throws {
        let unknown = Set(object.keys).subtracting(read.keys).subtracting(allowing).sorted()
        guard unknown.isEmpty else { throw SlimError.invalidArgument("\(what): unknown key \(unknown.map { "\"\($0)\"" }.joined(separator: ", "))") }
    }
}

/// `fnmatch`-style `*` and `?` over already lower-cased strings.
func glob(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern), t = Array(text)
    func from(_ i: Int, _ j: Int) -> Bool {
        if i == p.count { return j == t.count }
        if p[i] == "*" { return (j...t.count).contains { from(i + 1, $0) } }
        return j < t.count && (p[i] == "?" || p[i] == t[j]) && from(i + 1, j + 1)
    }
    return from(0, 0)
}
