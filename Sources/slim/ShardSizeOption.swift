import ArgumentParser
import SlimModel

/// `--max-shard-size`, for every command that writes a model folder: weights
/// past it go to several safetensors shards and an index, as transformers'
/// `save_pretrained(max_shard_size=…)` writes them.
struct ShardSizeOption: ParsableArguments {
    @Option(name: .customLong("max-shard-size"),
            help: "The largest weights file, e.g. 500MB, 2GB or 4GiB (decimal units as transformers reads them); larger weights are written as shards with an index.")
    var maxShardSize = "2GB"

    var bytes: Int { get throws { try CheckpointWriter.parseShardSize(maxShardSize) } }

    func validate() throws {
        do { _ = try bytes } catch { throw ValidationError("--max-shard-size \(maxShardSize): \(error)") }
    }
}
