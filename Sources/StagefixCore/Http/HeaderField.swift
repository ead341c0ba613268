// An HTTP header as `http_get` sends it: a name that is an RFC 9110 token and a value without line
// breaks or control characters, so no value (a cookie name from the server's settings, a playbook
// var) can end the header early and add one of its own.

enum HeaderField {
    static func validate(name: String, value: String) throws {
        guard !name.isEmpty, name.unicodeScalars.allSatisfy(isTokenCharacter) else {
            throw StagefixError.invalidData("http_get: header name \(TerminalText.escaped(name)) is not an HTTP token; refused")
        }
        if let bad = value.unicodeScalars.first(where: { TerminalText.isControl($0) && $0 != "\t" }) {
            throw StagefixError.invalidData("http_get: the value of header \(name) contains \(ControlCharacter.name(bad)); refused")
        }
    }

    /// RFC 9110 tchar: `!#$%&'*+-.^_`|~`, digits and letters.
    static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": return true
        default: return "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar)
        }
    }
}

/// How a refusal names the character it refuses.
enum ControlCharacter {
    static func name(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "a line feed (LF)"
        case "\r": return "a carriage return (CR)"
        case "\t": return "a tab"
        case "\u{1B}": return "an escape (ESC)"
        case ";": return "a `;`"
        case " ": return "a space"
        case _ where TerminalText.isControl(scalar):
            return "the control character U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
        default: return "`\(scalar)`"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
