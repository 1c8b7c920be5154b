/// Turns token bytes into text as they arrive: a character split across
/// tokens (an emoji is often three) is held back until its last byte comes.
public struct UTF8Stream: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// The complete characters the bytes so far make; an incomplete tail waits.
    public mutating func append(_ bytes: [UInt8]) -> String {
        pending += bytes
        var end = pending.count
        // Back up over at most three bytes of an unfinished sequence at the end.
        var back = 0
        while back < min(3, pending.count) {
            let byte = pending[pending.count - 1 - back]
            if byte & 0xC0 != 0x80 {  // a lead or ASCII byte
                let length = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                if length > back + 1 { end = pending.count - 1 - back }
                break
            }
            back += 1
        }
        let text = String(decoding: pending[..<end], as: UTF8.self)
        pending.removeFirst(end)
        return text
    }

    /// What is left, invalid bytes as U+FFFD.
    public mutating func finish() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }
}
