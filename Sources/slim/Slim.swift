import ArgumentParser

@main
struct Slim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slim",
        abstract: "Compress transformer models and run them compressed, on OpenCL or the CPU.",
        subcommands: [Devices.self, Bench.self, InspectCommand.self, EmbedCommand.self, CompressCommand.self, PruneCommand.self, LowRankCommand.self,
                      EvalCommand.self, TokenizeCommand.self, PerplexityCommand.self, GenerateCommand.self, DistillCommand.self, FinetuneCommand.self])
}
