import ArgumentParser
import SlimCore

/// `--allow-nonfinite`, beside `--backend` in every command that loads model
/// weights: a weight holding NaN or ±∞ is refused at load, by tensor and
/// file, unless the user asks to go on (to look at what such a model does).
struct NonFiniteOption: ParsableArguments {
    @Flag(help: "Load models whose weights hold NaN or ±inf (refused by default: they compute NaN or garbage). Quantizers still refuse them.")
    var allowNonfinite = false
}

/// A command that loads model weights. `Slim.main` runs it with
/// ``NonFiniteWeights/allowed`` set from its `--allow-nonfinite`: the
/// loaders read that scoped value, so no loading API needs a new parameter.
protocol LoadsWeights {
    var nonFinite: NonFiniteOption { get }
}

extension EmbedCommand: LoadsWeights { var nonFinite: NonFiniteOption { options.backendOption.nonFinite } }
extension BenchEmbed: LoadsWeights { var nonFinite: NonFiniteOption { options.backendOption.nonFinite } }
extension CompressCommand: LoadsWeights { var nonFinite: NonFiniteOption { backendOption.nonFinite } }
extension PruneCommand: LoadsWeights { var nonFinite: NonFiniteOption { backendOption.nonFinite } }
extension LowRankCommand: LoadsWeights {}
extension EvalCommand: LoadsWeights { var nonFinite: NonFiniteOption { backendOption.nonFinite } }
extension PerplexityCommand: LoadsWeights { var nonFinite: NonFiniteOption { options.backendOption.nonFinite } }
extension GenerateCommand: LoadsWeights { var nonFinite: NonFiniteOption { options.backendOption.nonFinite } }
extension DistillCommand: LoadsWeights { var nonFinite: NonFiniteOption { model.backendOption.nonFinite } }
extension BenchDistill: LoadsWeights { var nonFinite: NonFiniteOption { model.backendOption.nonFinite } }
extension FinetuneCommand: LoadsWeights { var nonFinite: NonFiniteOption { teacher.backendOption.nonFinite } }
