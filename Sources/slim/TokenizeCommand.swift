import ArgumentParser
import Foundation
import SlimModel

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "The token ids a model sees for each text (BERT WordPiece folders, GGUF byte-level BPE).")

    @Argument(help: "A model folder or a .gguf file.") var model: String
    @Argument(help: "Texts to tokenize.") var texts: [String] = []
    @Option(help: "A UTF-8 file with one text per non-empty line.") var file: String?
    @Flag(help: "Treat control tokens written in the text (<|im_start|>) as plain text, as llama-tokenize --no-parse-special.")
    var noParseSpecial = false
    @Flag(help: "Print a JSON array of {text, token_ids}.") var json = false

    func validate() throws {
        guard !texts.isEmpty || file != nil else { throw ValidationError("give texts or --file") }
    }

    func run() throws {
        let inputs = texts + (try file.map(TextInput.lines(ofFile:)) ?? [])
        let tokenizer = try ModelTokenizer(model: URL(fileURLWithPath: model))
        let ids = inputs.map { tokenizer.encode($0, parseSpecial: !noParseSpecial) }
        if json {
            try printJSON(zip(inputs, ids).map { ["text": $0, "token_ids": $1.map(Int.init)] })
            return
        }
        for (text, row) in zip(inputs, ids) {
            print("\(text)\n  \(row.count) tokens: \(row.map(String.init).joined(separator: " "))")
            print("  " + tokenizer.pieces(row).map { "'\($0)'" }.joined(separator: " "))
        }
    }
}
