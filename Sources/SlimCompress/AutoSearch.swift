import Foundation

/// What `--method auto` measured and chose, for `quantization_config.auto` and the model card.
public struct AutoSearch: Sendable {
    public let targetSize: Double
    /// targetSize × the source's model.safetensors bytes.
    public let budgetBytes: Int
    /// What the weights the search does not choose for take (norms, biases, the type table) plus a safetensors header allowance.
    public let fixedBytes: Int
    /// Every weight chosen for: the choice, then every candidate measured.
    public let layers: [(name: String, chosen: MeasuredChoice, measured: [MeasuredChoice])]
    /// Measuring and choosing, before the folder is written.
    public let seconds: Double
    /// How the int formats were produced and what the errors are.
    public let notes: String
    /// What an error is (encoders: 1 − mean cosine of the sentence embeddings; decoders: mean KL divergence).
    public var errorMeasure = "1 − mean cosine"
    /// What the fixed bytes hold.
    public var fixedContents = "norms, biases, the type table, the header"

    public var predictedBytes: Int { fixedBytes + layers.reduce(0) { $0 + $1.chosen.bytes } }
    /// The summed single-layer errors: the search's estimate of the whole folder's error (``errorMeasure``).
    public var predictedError: Double { layers.reduce(0) { $0 + $1.chosen.error } }

    public var json: [String: Any] {
        [
            "target_size": targetSize, "budget_bytes": budgetBytes, "fixed_bytes": fixedBytes,
            "predicted_bytes": predictedBytes, "predicted_error": predictedError, "search_seconds": seconds, "notes": notes, "error_measure": errorMeasure,
            "layers": layers.map { layer -> [String: Any] in
                ["name": layer.name, "choice": layer.chosen.choice.description, "error": layer.chosen.error, "bytes": layer.chosen.bytes,
                 "candidates": layer.measured.map { ["choice": $0.choice.description, "error": $0.error, "bytes": $0.bytes] }]
            },
        ]
    }

    public var markdown: String {
        var md = """

        ## Auto search

        - Budget: \(targetSize) × the source = \(budgetBytes) bytes; predicted \(predictedBytes) bytes (\(fixedBytes) of them fixed: \(fixedContents))
        - Predicted error (sum of the single-layer errors, \(errorMeasure)): \(String(format: "%.6f", predictedError))
        - Search time (measuring and choosing): \(String(format: "%.1f", seconds)) s
        - \(notes)

        | layer | choice | error | bytes | candidates (error / bytes) |
        |---|---|---|---|---|

        """
        md += layers.map { layer in
            let others = layer.measured.map { "\($0.choice): \(String(format: "%.2e", $0.error)) / \($0.bytes)" }.joined(separator: "; ")
            return "| \(layer.name) | \(layer.chosen.choice) | \(String(format: "%.2e", layer.chosen.error)) | \(layer.chosen.bytes) | \(others) |"
        }.joined(separator: "\n") + "\n"
        return md
    }
}
