import ArgumentParser
import SlimCore

@main
struct Slim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slim",
        abstract: "Compress transformer models and run them compressed, on OpenCL or the CPU.",
        subcommands: [Devices.self, Bench.self, InspectCommand.self, EmbedCommand.self, CompressCommand.self, PruneCommand.self, LowRankCommand.self,
                      EvalCommand.self, TokenizeCommand.self, PerplexityCommand.self, GenerateCommand.self, DistillCommand.self, FinetuneCommand.self])

    /// ArgumentParser's own `main`, except that a Foundation error no call
    /// site mapped is shown as a SlimError (path and reason) rather than as
    /// the NSError dump ArgumentParser would print.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: SlimError.fromFoundation(error))
        }
    }
}
