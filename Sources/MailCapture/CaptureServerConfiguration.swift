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
    /// Connections open at once; one more is answered 421 and closed.
    public var maxConnections: Int
    /// A connection that sends nothing for this long is answered 421 and closed (a slowloris client).
    public var idleTimeoutSeconds: Double
    /// Bytes stored in the Maildir over the server's run; a message past it is answered 452, not stored.
    public var maildirQuotaBytes: Int
    /// Message data held in memory across all connections; a connection that would pass it is
    /// answered 452 and closed (100 clients in DATA once took 2.4 GB).
    public var maxBufferedBytes: Int

    public static let defaultMaxConnections = 16
    public static let defaultIdleTimeoutSeconds = 60.0
    public static let defaultMaildirQuotaBytes = 256 << 20
    public static let defaultMaxBufferedBytes = 32 << 20

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        maildir: String,
        maxMessageBytes: Int = 25 * 1024 * 1024,
        maxRecipients: Int = 100,
        hostname: String = "stagefix.capture",
        maxConnections: Int = CaptureServerConfiguration.defaultMaxConnections,
        idleTimeoutSeconds: Double = CaptureServerConfiguration.defaultIdleTimeoutSeconds,
        maildirQuotaBytes: Int = CaptureServerConfiguration.defaultMaildirQuotaBytes,
        maxBufferedBytes: Int = CaptureServerConfiguration.defaultMaxBufferedBytes
    ) {
        self.maxConnections = maxConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.maildirQuotaBytes = maildirQuotaBytes
        self.maxBufferedBytes = maxBufferedBytes
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
        guard maxConnections > 0 else {
            throw .invalidConfiguration("maxConnections must be at least 1")
        }
        guard idleTimeoutSeconds > 0, idleTimeoutSeconds.isFinite else {
            throw .invalidConfiguration("the idle timeout must be a positive number of seconds")
        }
        guard maildirQuotaBytes > 0, maxBufferedBytes > 0 else {
            throw .invalidConfiguration("the Maildir quota and the memory bound must be at least 1 byte")
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
