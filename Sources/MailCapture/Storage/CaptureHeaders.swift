// The X- headers put in front of every stored message: where it came from and its envelope, which the message itself does not show.

enum CaptureHeaders {
    static func render(peer: String, mailFrom: String, recipients: [String]) -> [UInt8] {
        let text = "X-Peer: \(headerValue(peer))\r\n"
            + "X-MailFrom: <\(headerValue(mailFrom))>\r\n"
            + "X-RcptTo: \(recipients.map(headerValue).joined(separator: ", "))\r\n"
        return Array(text.utf8)
    }

    /// The values come from the client. The parser already refuses control characters in addresses;
    /// this is the second line of defence: a CR or LF here would let a client write headers of its choosing.
    static func headerValue(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                escaped.append(contentsOf: "\\x\(hex.count == 1 ? "0" + hex : hex)".unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
