import Foundation
import SlimCore
import SlimModel
import SlimParallel

/// Which subsets of text `slim eval --slices` evaluates on their own.
public enum SliceChoice: Sendable, Equatable {
    /// Every text file of a folder.
    case folder(URL)
    /// The evaluation texts bucketed by token count.
    case byLength

    public init(parsing option: String) {
        self = option == "by-length" ? .byLength : .folder(URL(fileURLWithPath: option))
    }
}

/// How far the compressed model departs from the original on clean and on perturbed text.
public struct RobustnessRow: Sendable {
    public let perturbation: String
    public let clean: [String: Double], perturbed: [String: Double]
    public let skipped: String?

    public var json: [String: Any] {
        var o: [String: Any] = ["perturbation": perturbation, "clean": clean, "perturbed": perturbed]
        o["skipped"] = skipped
        return o
    }
}

/// Everything `slim eval` measures on two decoders (issues 16 and 22).
public struct DecoderEvaluationReport: Sendable {
    public let main: DecoderComparisonRun
    public let slices: [SliceRow]
    public let robustness: [RobustnessRow]
    public let calibrationOriginal: ReliabilityBins, calibrationCompressed: ReliabilityBins
    /// The positions of the main text where the two distributions differ most, with context.
    public let worst: [DecoderWorstCase]
}

/// One position where the models disagree: the text before it and each model's pick.
public struct DecoderWorstCase: Sendable {
    public let context: String, target: String
    public let kl: Double
    public let top1Original: String, top1Compressed: String
    public let probabilityOriginal: Double, probabilityCompressed: Double

    public var json: [String: Any] {
        ["context": context, "target": target, "kl_divergence": kl, "top1_original": top1Original, "top1_compressed": top1Compressed,
         "p_top1_original": probabilityOriginal, "p_top1_compressed": probabilityCompressed]
    }
}

/// Runs the evaluation of issue 22 on two decoders sharing a tokenizer.
public struct DecoderEvaluator {
    public let original: DecoderModel, compressed: DecoderModel
    public let tokenizer: BPETokenizer
    public var context = 512, chunks: Int?
    public var slices: SliceChoice?
    public var perturbations: [Perturbation] = []
    public var seed: UInt64 = 0
    public var worstCount = 5
    /// The ranks (or device replicas) sharing the work: each runs its share of every text's
    /// windows and all gather every position, so each rank's report is one process's.
    public var collective: any Collective = SingleProcess()

    public init(original: DecoderModel, compressed: DecoderModel, tokenizer: BPETokenizer) {
        (self.original, self.compressed, self.tokenizer) = (original, compressed, tokenizer)
    }

    var bos: Int32? { tokenizer.addBOS ? tokenizer.bosID : nil }

    func tokens(_ text: String) -> [Int32] { tokenizer.encode(text, addBOS: false, parseSpecial: false) }

    /// `text` is the main text (scored in chunks, as `slim perplexity`), `entries` its texts
    /// (`--slices by-length` buckets them). `progress`: the stage, and windows done of total.
    public func run(text: String, entries: [String], progress: ((String, Int, Int) -> Void)? = nil) throws -> DecoderEvaluationReport {
        let main = try Evaluation.compare(original: original, compressed: compressed, tokens: tokens(text), context: context, chunks: chunks,
                                          bos: bos, collective: collective) { progress?("chunks", $0, $1) }
        let rows = try slices.map { try sliceRows($0, entries: entries, progress: progress) } ?? []
        var robustness: [RobustnessRow] = []
        let clean = Self.departure(main.comparison)
        for p in perturbations {
            let perturbed = p.apply(text, seed: seed)
            do {
                let run = try Evaluation.compare(original: original, compressed: compressed, tokens: tokens(perturbed), context: context,
                                                 chunks: chunks, bos: bos, collective: collective) { progress?("chunks (\(p.rawValue))", $0, $1) }
                robustness.append(RobustnessRow(perturbation: p.rawValue, clean: clean, perturbed: Self.departure(run.comparison), skipped: nil))
            } catch let e as SlimError {
                // A text too short to score is a skipped row; a rank that failed ends the evaluation.
                if case .collective = e { throw e }
                robustness.append(RobustnessRow(perturbation: p.rawValue, clean: clean, perturbed: [:], skipped: e.description))
            }
        }
        let calibration = main.comparison.calibration
        return DecoderEvaluationReport(main: main, slices: rows, robustness: robustness, calibrationOriginal: calibration.original,
                                       calibrationCompressed: calibration.compressed, worst: worst(main))
    }

    static func departure(_ c: DecoderComparison) -> [String: Double] {
        ["kl_divergence_mean": c.klMean, "top1_agreement": c.top1Agreement, "tokens_scored": Double(c.count)]
    }

    /// Each slice compared on its own: a folder's files chunk by chunk (a file shorter than one
    /// chunk is skipped, saying so), length buckets text by text.
    func sliceRows(_ choice: SliceChoice, entries: [String], progress: ((String, Int, Int) -> Void)?) throws -> [SliceRow] {
        let slices: [TextSlice]
        switch choice {
        case .folder(let url): slices = try EvaluationSlices.folder(url)
        case .byLength: slices = EvaluationSlices.byLength(entries) { tokens($0).count }
        }
        var rows: [SliceRow] = [], pooled = 0.0, scored = 0
        for slice in slices {
            if let problem = slice.problem {
                rows.append(SliceRow(name: slice.name, degradation: nil, figures: [:], skipped: problem))
                continue
            }
            let windows: [ScoredWindow]
            if choice == .byLength {
                windows = slice.texts.compactMap { ScoredWindow.text(tokens($0), bos: bos, context: context) }
            } else {
                let ids = tokens(slice.text)
                guard let plan = try? PerplexityChunks(tokens: ids, context: context, chunks: chunks, bos: bos,
                                                       limit: min(original.config.contextLength, compressed.config.contextLength)) else {
                    rows.append(SliceRow(name: slice.name, degradation: nil, figures: [:],
                                         skipped: "\(ids.count) tokens, fewer than one chunk of \(context)"))
                    continue
                }
                windows = ScoredWindow.chunks(plan)
            }
            guard !windows.isEmpty else {
                rows.append(SliceRow(name: slice.name, degradation: nil, figures: [:], skipped: "no text of two tokens or more"))
                continue
            }
            let c = try Evaluation.compare(original: original, compressed: compressed, windows: windows, collective: collective) {
                progress?("windows (slice \(slice.name))", $0, $1)
            }.comparison
            pooled += c.klMean * Double(c.count)
            scored += c.count
            rows.append(SliceRow(name: slice.name, degradation: c.klMean, figures: c.figures))
        }
        return EvaluationSlices.flag(rows, overall: scored == 0 ? 0 : pooled / Double(scored))
    }

    /// The `worstCount` positions of the largest KL divergence, each with the 24 tokens before it.
    func worst(_ run: DecoderComparisonRun) -> [DecoderWorstCase] {
        let order = run.comparison.positions.indices.sorted { run.comparison.positions[$0].kl > run.comparison.positions[$1].kl }
        return order.prefix(worstCount).map { i in
            let p = run.comparison.positions[i], (w, row) = run.origins[i], ids = run.windows[w].ids
            return DecoderWorstCase(context: tokenizer.decode(Array(ids[max(0, row - 23)...row])), target: tokenizer.decode([ids[row + 1]]),
                                    kl: p.kl, top1Original: tokenizer.decode([Int32(p.top1Original)]),
                                    top1Compressed: tokenizer.decode([Int32(p.top1Compressed)]),
                                    probabilityOriginal: p.confidenceOriginal, probabilityCompressed: p.confidenceCompressed)
        }
    }
}

extension DecoderEvaluationReport {
    public var json: [String: Any] {
        var o = main.comparison.summary
        o["chunks"] = main.chunks
        o["tokens_per_s_original"] = main.tokensPerSecondOriginal
        o["tokens_per_s_compressed"] = main.tokensPerSecondCompressed
        if !slices.isEmpty {
            o["slices"] = slices.map(\.json)
            o["slice_flag_rule"] = "mean KL divergence above \(EvaluationSlices.flagFactor)x the mean pooled over all slices"
        }
        if !robustness.isEmpty { o["robustness"] = robustness.map(\.json) }
        o["calibration"] = ["bins": calibrationOriginal.bins.count,
                            "ece_original": calibrationOriginal.expectedCalibrationError,
                            "ece_compressed": calibrationCompressed.expectedCalibrationError,
                            "reliability_original": calibrationOriginal.json, "reliability_compressed": calibrationCompressed.json]
        o["worst"] = worst.map(\.json)
        return o
    }
}
