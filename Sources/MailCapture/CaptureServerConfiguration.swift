// What a capture server listens on, where it stores mail, and its limits.

public struct CaptureServerConfiguration: Sendable, Equatable {
    public var host: String
    /// 0 asks for any free port; `SMTPCaptureServer.localAddress` tells which one.
    public var port: Int
    /// The Maildir folder; it and its tmp/, new/, cur/ are created if missing.
    public var maildir: String
    /// Advertised as SIZE; a bigger message is read to its end, not stored, and answered 552.
    public var maxMessageBytes: Int
    /// Recipients per message; one more is answered 452.
    public var maxRecipients: Int
    /// Named in the greeting and EHLO reply and in Maildir file names.
    public var hostname: String

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        maildir: String,
        maxMessageBytes: Int = 25 * 1024 * 1024,
        maxRecipients: Int = 100,
        hostname: String = "stagefix.capture"
    ) {
        self.host = host
        self.port = port
        self.maildir = maildir
        self.maxMessageBytes = maxMessageBytes
        self.maxRecipients = maxRecipients
        self.hostname = hostname
    }

    func validate() throws(MailCaptureError) {
        guard (0...65535).contains(port) else {
            throw .invalidConfiguration("port \(port) is outside 0...65535")
        }
        guard maxMessageBytes > 0 else {
            throw .invalidConfiguration("maxMessageBytes must be at least 1")
        }
        guard maxRecipients > 0 else {
            throw .invalidConfiguration("maxRecipients must be at least 1")
        }
        // The hostname goes into reply lines and file names: whitespace or a control character would break both.
        guard !hostname.isEmpty, !hostname.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw .invalidConfiguration("hostname '\(hostname)' must be one word without spaces or control characters")
        }
        guard !maildir.isEmpty else {
            throw .invalidConfiguration("the Maildir path is empty")
        }
    }
}
