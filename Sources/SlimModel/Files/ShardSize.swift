import Foundation
import SlimCore

extension CheckpointWriter {
    /// A shard size as transformers' `max_shard_size` reads it
    /// (`convert_file_size_to_int`): an integer and a unit, `KB`/`MB`/`GB`
    /// decimal (`500MB` is 500,000,000 bytes), `KiB`/`MiB`/`GiB` binary, the
    /// unit's case ignored but for a lowercase final `b`, which means bits
    /// (`5Gb` is 625,000,000 bytes); a bare integer is bytes.
    public static func parseShardSize(_ text: String) throws -> Int {
        let units: [(suffix: String, bytes: Int)] = [
            ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in units where trimmed.uppercased().hasSuffix(suffix) {
            let digits = trimmed.dropLast(suffix.count)
            guard let n = Int(digits), n > 0 else { break }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: scale)
            guard !overflow else { break }
            let bits = !suffix.hasSuffix("IB") && suffix.hasSuffix("B") && trimmed.hasSuffix("b")
            return bits ? max(bytes / 8, 1) : bytes
        }
        throw SlimError.invalidArgument("shard size '\(text)': give a positive integer and a unit, e.g. 500MB, 2GB or 4GiB (decimal KB/MB/GB, binary KiB/MiB/GiB)")
    }
}
