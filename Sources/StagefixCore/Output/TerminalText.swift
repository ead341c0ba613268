// What a server says, made safe to print in text mode: control characters (C0, ESC, DEL, C1) shown
// as escapes, so a value cannot move the cursor, recolour the terminal or forge an output line.

public enum TerminalText {
    /// `text` unchanged when it holds no control character; otherwise double-quoted with every
    /// control character escaped (`\n`, `\t`, `\x1b`, `\u{9b}`) and `"`, `\` escaped, so a
    /// multi-line value prints as one unambiguous line. Text that itself starts with `"` is quoted
    /// too: shown unquoted, a value is always literal.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) || text.hasPrefix("\"") else { return text }
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x80 && isControl(scalar): result += "\\x" + hex(scalar.value)
            case _ where isControl(scalar): result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// For text that is many lines by design (a mail body, a command's stderr tail): line breaks
    /// stay, every other control character is escaped as in `escaped`, and a bare CR too (it would
    /// let a line overwrite the one before it).
    public static func escapedKeepingLines(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 != "\n" && isControl($0) }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\n"
            case "\t": result += "\t"
            case _ where scalar.value < 0x80 && isControl(scalar): result += "\\x" + hex(scalar.value)
            case _ where isControl(scalar): result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// C0 (including ESC), DEL and C1.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
