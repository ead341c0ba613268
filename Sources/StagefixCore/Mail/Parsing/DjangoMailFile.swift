// Django's file-based email backend (django/core/mail/backends/filebased.py) writes, per
// message, `message.as_bytes() + b"\n"`, then `b"-" * 79`, then `b"\n"` (console.py
// write_message does the same on text streams), appending to one file per connection.

/// Splits files written by Django's file-based email backend into messages.
public enum DjangoMailFile {
    /// The bytes between two messages: `"\n" + "-" * 79 + "\n"`.
    static let separator: [UInt8] = [0x0A] + [UInt8](repeating: 0x2D, count: 79) + [0x0A]

    /// Splits a file's bytes into complete messages (without their separators).
    ///
    /// Bytes after the last separator belong to a message still being written: they are never
    /// returned as a message, `incompleteTail` is true instead.
    ///
    /// A message body can itself contain a line of 79 dashes (an 8bit text body with a
    /// horizontal rule). A separator therefore only counts when it is followed by the end of
    /// the file or by a header section (header field lines, then an empty line or the end of the
    /// file), which is how every message Django writes begins. A body rule directly followed by
    /// header-like lines and an empty line is still taken for a separator, as is a rule at the
    /// very end of a partially written file. Empty messages are skipped.
    public static func split(_ bytes: [UInt8]) -> (messages: [[UInt8]], incompleteTail: Bool) {
        var messages: [[UInt8]] = []
        var messageStart = 0
        var i = 0
        let n = bytes.count
        let sepCount = separator.count
        while i + sepCount <= n {
            guard bytes[i] == 0x0A, bytes[i + sepCount - 1] == 0x0A,
                bytes[(i + 1)..<(i + sepCount - 1)].allSatisfy({ $0 == 0x2D }),
                canStartMessage(bytes, at: i + sepCount)
            else {
                i += 1
                continue
            }
            if i > messageStart {
                messages.append(Array(bytes[messageStart..<i]))
            }
            messageStart = i + sepCount
            i = messageStart
        }
        return (messages, messageStart < n)
    }

    /// Whether the bytes at `start` can be the beginning of a message Django wrote: end of file,
    /// or a header section (a field line, then field or continuation lines) that reaches an empty
    /// line or the end of the file (where the last line may still be partial).
    ///
    /// Linear overall: a rejected scan stops at the first line that is not a header line, and a
    /// dash line (the next candidate) is never a header line.
    private static func canStartMessage(_ bytes: [UInt8], at start: Int) -> Bool {
        let n = bytes.count
        var k = start
        var isFirstLine = true
        while k < n {
            var lineEnd = k
            while lineEnd < n && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let atEOF = lineEnd == n
            var contentEnd = lineEnd
            if contentEnd > k && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            if contentEnd == k {
                // Empty line: the end of a header section, if there was one.
                return !isFirstLine || atEOF
            }
            let first = bytes[k]
            if first == 0x20 || first == 0x09 {
                if isFirstLine { return false }  // continuation without a field
            } else {
                var i = k
                while i < contentEnd && bytes[i] >= 33 && bytes[i] <= 126 && bytes[i] != 0x3A { i += 1 }
                let isField = i > k && i < contentEnd && bytes[i] == 0x3A
                let isPartialName = atEOF && i == contentEnd  // a field name still being written
                if !isField && !isPartialName { return false }
            }
            if atEOF { return true }
            k = lineEnd + 1
            isFirstLine = false
        }
        return true
    }
}
