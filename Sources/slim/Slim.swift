import ArgumentParser
import Foundation
import SlimCore
import SlimParallel

/// A command that runs under `mpirun` with several ranks, each doing its share.
protocol SplitsAcrossRanks {}

@main
struct Slim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slim",
        abstract: "Compress transformer models and run them compressed, on OpenCL or the CPU.",
        subcommands: [Devices.self, SelfTestCommand.self, TuneCommand.self, Bench.self, InspectCommand.self, EmbedCommand.self, CompressCommand.self, ExportCommand.self, PruneCommand.self, LowRankCommand.self,
                      EvalCommand.self, TokenizeCommand.self, PerplexityCommand.self, GenerateCommand.self, DistillCommand.self, FinetuneCommand.self])

    /// ArgumentParser's own `main`, with the command run inside the scope of
    /// its `--allow-nonfinite` (see ``LoadsWeights``), and a Foundation error
    /// no call site mapped shown as a SlimError (path and reason) rather than
    /// as the NSError dump ArgumentParser would print.
    static func main() {
        MemoryReturn.configure()
        do {
            var command = try parseAsRoot()
            _ = try Job.opened.get()
            if Job.collective.size > 1 && !(command is any SplitsAcrossRanks) {
                throw SlimError.unsupported(op: "slim \(type(of: command).configuration.commandName ?? "")", backend: "MPI",
                                            reason: "this command does not split its work across ranks; run it without mpirun (distill, finetune, compress with rtn/gptq/awq on a decoder, perplexity, eval of a decoder and devices do)")
            }
            try Job.agreeOnCommand()
            let allow = (command as? any LoadsWeights)?.nonFinite.allowNonfinite ?? false
            try NonFiniteWeights.$allowed.withValue(allow) { try command.run() }
            MPICollective.finish(Job.collective)
        } catch {
            let ranks = Job.collective
            guard ranks.size > 1 else { exit(withError: SlimError.fromFoundation(error)) }
            // One rank's error ends the whole job now: the others may be waiting in a collective for it.
            FileHandle.standardError.write(Data("Error (rank \(ranks.rank) of \(ranks.size)): \(SlimError.fromFoundation(error))\n".utf8))
            MPICollective.abort(ranks, code: 1)
        }
    }
}
