import Foundation
import SlimCore

/// Where a decoder checkpoint keeps each tensor (every family under the
/// Llama names; ``FusedWeightStore`` maps Phi-3's fused ones onto them), and how its query and key
/// rows are ordered: GGUF files (`blk.0.attn_q`) permute them for rotary
/// pairs of adjacent features; Hugging Face folders (`model.layers.0.self_attn.q_proj`)
/// pair feature i with i + d/2. Names are prefixes; weights add `.weight`.
public enum DecoderTensorNames: Sendable {
    case gguf, huggingFace

    public var ropeStyle: RopeStyle { self == .gguf ? .interleaved : .halves }

    public var tokenEmbedding: String { self == .gguf ? "token_embd" : "model.embed_tokens" }
    public var outputNorm: String { self == .gguf ? "output_norm" : "model.norm" }
    public var output: String { self == .gguf ? "output" : "lm_head" }

    public enum Part: CaseIterable, Sendable {
        case attentionNorm, query, key, value, queryNorm, keyNorm, attentionOutput, ffnNorm, gate, up, down

        /// The linear layers of a block, in the order they run.
        public static let linears: [Part] = [.query, .key, .value, .attentionOutput, .gate, .up, .down]
    }

    public func block(_ i: Int, _ part: Part) -> String {
        switch self {
        case .gguf:
            let name = switch part {
            case .attentionNorm: "attn_norm"
            case .query: "attn_q"
            case .key: "attn_k"
            case .value: "attn_v"
            case .queryNorm: "attn_q_norm"
            case .keyNorm: "attn_k_norm"
            case .attentionOutput: "attn_output"
            case .ffnNorm: "ffn_norm"
            case .gate: "ffn_gate"
            case .up: "ffn_up"
            case .down: "ffn_down"
            }
            return "blk.\(i).\(name)"
        case .huggingFace:
            let name = switch part {
            case .attentionNorm: "input_layernorm"
            case .query: "self_attn.q_proj"
            case .key: "self_attn.k_proj"
            case .value: "self_attn.v_proj"
            case .queryNorm: "self_attn.q_norm"
            case .keyNorm: "self_attn.k_norm"
            case .attentionOutput: "self_attn.o_proj"
            case .ffnNorm: "post_attention_layernorm"
            case .gate: "mlp.gate_proj"
            case .up: "mlp.up_proj"
            case .down: "mlp.down_proj"
            }
            return "model.layers.\(i).\(name)"
        }
    }

    /// The linear layers of block `i` (weight names), in the order they run.
    public func linears(_ i: Int) -> [String] {
        Part.linears.map { block(i, $0) + ".weight" }
    }

    /// Reorders the rows of a GGUF query or key weight (`heads` heads of
    /// `rows / heads` rows) into Hugging Face's order: within each head, GGUF
    /// row 2j holds HF row j and row 2j+1 holds HF row j + d/2.
    public static func unpermuteRows(_ w: [Float], rows: Int, columns: Int, heads: Int) -> [Float] {
        let d = rows / heads
        var out = [Float](repeating: 0, count: w.count)
        for h in 0..<heads {
            for j in 0..<d / 2 {
                for (src, dst) in [(2 * j, j), (2 * j + 1, j + d / 2)] {
                    let from = (h * d + src) * columns, to = (h * d + dst) * columns
                    out[to..<to + columns] = w[from..<from + columns]
                }
            }
        }
        return out
    }

    /// The inverse of ``unpermuteRows(_:rows:columns:heads:)`` on rows of any
    /// encoding (`rowBytes` bytes each; packed blocks included, since each
    /// row holds its own blocks and scales): Hugging Face row j of each head
    /// goes to row 2j, row j + d/2 to row 2j + 1, as llama.cpp's converter
    /// (`LlamaModel.permute`) orders queries and keys for the llama architecture.
    public static func interleaveRows(_ data: Data, rows: Int, heads: Int) -> Data {
        let rowBytes = data.count / max(rows, 1), d = rows / max(heads, 1)
        var out = Data(count: data.count)
        out.withUnsafeMutableBytes { o in
            data.withUnsafeBytes { w in
                for h in 0..<heads {
                    for j in 0..<d / 2 {
                        for (src, dst) in [(j, 2 * j), (j + d / 2, 2 * j + 1)] {
                            let from = (h * d + src) * rowBytes, to = (h * d + dst) * rowBytes
                            o.baseAddress!.advanced(by: to).copyMemory(from: w.baseAddress!.advanced(by: from), byteCount: rowBytes)
                        }
                    }
                }
            }
        }
        return out
    }
}
