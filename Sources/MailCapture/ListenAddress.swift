// Reads a listen address as a person types it: `PORT`, `HOST:PORT` or `[IPv6]:PORT`.

extension CaptureServerConfiguration {
    /// A bare `PORT` listens on 127.0.0.1: a capture server is for tests and should not face the network unless asked.
    public static let defaultListenHost = "127.0.0.1"

    public static func parseListenAddress(_ text: String) throws(MailCaptureError) -> (host: String, port: Int) {
        let invalid = MailCaptureError.invalidListenAddress(text)
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw invalid }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw invalid }
            portText = rest.dropFirst()
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            // More than one colon is an IPv6 address without brackets: its last part cannot be told from a port.
            guard !portText.contains(":") else { throw invalid }
        } else {
            host = Substring(defaultListenHost)
            portText = text[...]
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "[" || $0 == "]" }) else { throw invalid }
        guard (1...5).contains(portText.count),
              portText.allSatisfy({ $0.isASCII && $0.isWholeNumber }),
              let port = Int(portText), port <= 65535
        else { throw invalid }
        return (String(host), port)
    }
}
