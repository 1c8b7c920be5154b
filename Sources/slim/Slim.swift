import ArgumentParser
import SlimCore

@main
struct Slim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slim",
        abstract: "Compress transformer models and run them compressed, on OpenCL or the CPU.",
        subcommands: [Devices.self, SelfTestCommand.self, Bench.self, InspectCommand.self, EmbedCommand.self, CompressCommand.self, ExportCommand.self, PruneCommand.self, LowRankCommand.self,
                      EvalCommand.self, TokenizeCommand.self, PerplexityCommand.self, GenerateCommand.self, DistillCommand.self, FinetuneCommand.self])

    /// ArgumentParser's own `main`, with the command run inside the scope of
    /// its `--allow-nonfinite` (see ``LoadsWeights``), and a Foundation error
    /// no call site mapped shown as a SlimError (path and reason) rather than
    /// as the NSError dump ArgumentParser would print.
    static func main() {
        MemoryReturn.configure()
        do {
            var command = try parseAsRoot()
            let allow = (command as? any LoadsWeights)?.nonFinite.allowNonfinite ?? false
            try NonFiniteWeights.$allowed.withValue(allow) { try command.run() }
        } catch {
            exit(withError: SlimError.fromFoundation(error))
        }
    }
}
