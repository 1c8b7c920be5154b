/// What a compressing command writes: Slim's own folder, or a format other
/// engines load (the writer for each is its own file).
public enum OutputFormat: String, Sendable, CaseIterable {
    /// Safetensors with Slim's packed layouts and `quant_method: slim`: every Slim command runs it.
    case slim
    /// llm-compressor's format (`quant_method: compressed-tensors`), which vLLM and transformers load.
    case compressedTensors = "compressed-tensors"
    /// One GGUF file, which llama.cpp and Ollama load.
    case gguf
}
