// One SMTP reply (a code and its text lines) and the bytes it goes out as.

struct SMTPReply: Equatable, Sendable {
    let code: Int
    let lines: [String]

    init(_ code: Int, _ text: String) {
        self.init(code, lines: [text])
    }

    init(_ code: Int, lines: [String]) {
        precondition(!lines.isEmpty, "a reply has at least one line")
        self.code = code
        self.lines = lines
    }

    /// `250-first\r\n250 last\r\n`: a hyphen after the code says more lines follow (RFC 5321 4.2.1).
    var wireText: String {
        var text = ""
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            text += "\(code)\(separator)\(line)\r\n"
        }
        return text
    }
}

extension SMTPReply {
    /// The answer to a message that is now in new/.
    static func queued(as id: String) -> SMTPReply {
        SMTPReply(250, "2.0.0 Ok: queued as \(id)")
    }

    /// The answer when writing to the Maildir failed: 4xx so a client may retry.
    static let notStored = SMTPReply(451, "4.3.0 could not store the message in the Maildir")

    static let tooManyConnections = SMTPReply(421, "4.7.0 too many connections to the capture server; try again later")
    static let idleTooLong = SMTPReply(421, "4.4.2 idle too long; closing the connection")
    static let quotaFull = SMTPReply(452, "4.3.1 the capture Maildir's quota for this run is used up; message not stored")
    static let memoryFull = SMTPReply(452, "4.3.1 the capture server holds too much message data; closing, try again later")
}
