import ArgumentParser
import Foundation
import SlimCompress
import SlimModel

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a Slim folder (compressed to q8_0, q4_0, q4_1, q5_0, q5_1, q4_k or q6_k, or float) as one GGUF file that llama.cpp and Ollama load.",
        discussion: "Packed weights are written as their GGUF blocks, unchanged; float matrices as F16, vectors and norms as F32. The model card's facts go into general.* and slim.* metadata.")

    @Argument(help: "A folder written by slim compress (a decoder of any family, or a BERT encoder), or a float Hugging Face folder.")
    var folder: String
    @Option(name: .shortAndLong, help: "The .gguf file to write (an existing one only with --overwrite, and only if Slim wrote it).") var output: String
    @Flag(help: "Replace a GGUF file Slim wrote earlier.") var overwrite = false
    @Flag(help: "Print {architecture, tensors, file_bytes, kinds} as JSON.") var json = false

    func run() throws {
        let report = try GGUFExport().export(URL(fileURLWithPath: folder), to: URL(fileURLWithPath: output), overwrite: overwrite)
        if json {
            try printJSON(["architecture": report.architecture, "tensors": report.tensors, "file_bytes": report.fileBytes, "kinds": report.kinds])
        } else {
            print("\(folder) → \(output): GGUF \(report.architecture), \(report.tensors) tensors (\(report.kinds.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))), \(report.fileBytes) bytes")
        }
    }
}
