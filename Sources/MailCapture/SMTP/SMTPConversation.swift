// The server side of one SMTP connection (RFC 5321) as a value: a line in, replies out, no sockets, so every rule is unit-testable.

struct SMTPConversation: Sendable {
    enum Output: Equatable, Sendable {
        case reply(SMTPReply)
        /// A whole message came in: store it, then answer `SMTPReply.queued(as:)` or `.notStored`.
        case deliver(CapturedMessage)
        /// QUIT was answered: close once the reply is out.
        case close
    }

    struct Limits: Equatable, Sendable {
        var maxMessageBytes: Int
        var maxRecipients: Int
        /// RFC 5321 4.5.3.1.4 caps a text line at 1000 octets counting the CRLF.
        var maxCommandLineBytes = 998
    }

    private enum Phase: Sendable {
        case commands
        case authenticating(AuthExchange)
        case messageData(MessageDataReader)
        case closed
    }

    private enum Hello: Sendable {
        case none
        case helo
        case ehlo
    }

    private struct Transaction: Sendable {
        var mailFrom: String
        var recipients: [String] = []
    }

    private enum AssembledLine {
        case complete([UInt8])
        case tooLong
    }

    let hostname: String
    let limits: Limits
    private var phase = Phase.commands
    private var hello = Hello.none
    private var isAuthenticated = false
    private var transaction: Transaction?
    /// A command line that came in pieces, gathered until its ending.
    private var lineSoFar: [UInt8] = []
    private var lineSoFarTooLong = false

    init(hostname: String, limits: Limits) {
        self.hostname = hostname
        self.limits = limits
    }

    var greeting: SMTPReply {
        SMTPReply(220, "\(hostname) stagefix capture ESMTP")
    }

    /// Between DATA's 354 and the lone ".": pieces are message content.
    var isReceivingMessage: Bool {
        if case .messageData = phase { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    mutating func receive(_ piece: LinePiece) -> [Output] {
        if case .messageData(var reader) = phase {
            // Drop the enum's copy first: with two owners, every append would copy the whole message so far.
            phase = .commands
            switch reader.take(piece) {
            case .needsMore:
                phase = .messageData(reader)
                return []
            case .ended:
                return finishMessage(reader)
            }
        }
        switch assemble(piece) {
        case nil:
            return []
        case .tooLong?:
            if case .authenticating = phase {
                phase = .commands
            }
            return isClosed ? [] : [.reply(SMTPReply(500, "5.5.2 Line too long (at most 1000 bytes with CRLF)"))]
        case .complete(let bytes)?:
            switch phase {
            case .commands:
                return handleCommand(bytes)
            case .authenticating(let exchange):
                return continueAuth(exchange, with: bytes)
            case .messageData, .closed:
                return []
            }
        }
    }

    /// Gathers pieces into a command line; past the limit it keeps only the fact that the line was too long.
    private mutating func assemble(_ piece: LinePiece) -> AssembledLine? {
        if !lineSoFarTooLong {
            lineSoFar.append(contentsOf: piece.content)
            if lineSoFar.count > limits.maxCommandLineBytes {
                lineSoFarTooLong = true
                lineSoFar = []
            }
        }
        guard piece.ending != nil else { return nil }
        defer {
            lineSoFar = []
            lineSoFarTooLong = false
        }
        return lineSoFarTooLong ? .tooLong : .complete(lineSoFar)
    }

    private mutating func handleCommand(_ bytes: [UInt8]) -> [Output] {
        guard let line = Self.decodeUTF8(bytes) else {
            return [.reply(SMTPReply(500, "5.5.2 Syntax error (command is not UTF-8)"))]
        }
        let command: SMTPCommand
        do {
            command = try SMTPCommand.parse(line)
        } catch {
            return [.reply(error.reply)]
        }
        switch command {
        case .helo:
            // RFC 5321 4.1.4: a new HELO/EHLO drops any transaction in progress, like RSET.
            transaction = nil
            hello = .helo
            return [.reply(SMTPReply(250, hostname))]
        case .ehlo:
            transaction = nil
            hello = .ehlo
            return [.reply(ehloReply)]
        case .mail(let path):
            return [.reply(startTransaction(path))]
        case .rcpt(let path):
            return [.reply(addRecipient(path))]
        case .data:
            return [.reply(startData())]
        case .rset:
            transaction = nil
            return [.reply(SMTPReply(250, "2.0.0 Ok"))]
        case .noop:
            return [.reply(SMTPReply(250, "2.0.0 Ok"))]
        case .quit:
            phase = .closed
            return [.reply(SMTPReply(221, "2.0.0 Bye")), .close]
        case .vrfy:
            return [.reply(SMTPReply(252, "2.0.0 Cannot VRFY user, but will accept message and attempt delivery"))]
        case .help:
            return [.reply(SMTPReply(214, "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY AUTH HELP"))]
        case .auth(let mechanism, let initialResponse):
            return startAuth(mechanism: mechanism, initialResponse: initialResponse)
        case .notImplemented:
            return [.reply(SMTPReply(502, "5.5.1 Command not implemented"))]
        case .unrecognized:
            return [.reply(SMTPReply(500, "5.5.2 Command not recognized"))]
        }
    }

    private var ehloReply: SMTPReply {
        SMTPReply(250, lines: [
            hostname,
            "PIPELINING",
            "8BITMIME",
            "SMTPUTF8",
            "SIZE \(limits.maxMessageBytes)",
            "AUTH \(AuthExchange.mechanisms.joined(separator: " "))",
        ])
    }

    private mutating func startTransaction(_ path: MailPath) -> SMTPReply {
        guard transaction == nil else {
            return SMTPReply(503, "5.5.1 Nested MAIL command (RSET first)")
        }
        for parameter in path.parameters {
            switch parameter.keyword {
            case "SIZE":
                // RFC 1870: the client's estimate; refusing early spares sending a message that would be refused anyway.
                guard let value = parameter.value, !value.isEmpty, value.allSatisfy(\.isASCIIDigit) else {
                    return SMTPReply(501, "5.5.4 Syntax: SIZE=<bytes>")
                }
                if (Int(value) ?? .max) > limits.maxMessageBytes {
                    return SMTPReply(552, "5.3.4 Message size exceeds the limit of \(limits.maxMessageBytes) bytes")
                }
            case "BODY":
                guard let value = parameter.value?.uppercased(), value == "7BIT" || value == "8BITMIME" else {
                    return SMTPReply(501, "5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME")
                }
            case "SMTPUTF8":
                guard parameter.value == nil else {
                    return SMTPReply(501, "5.5.4 SMTPUTF8 takes no value")
                }
            case "AUTH":
                // RFC 4954 5: the identity that submitted the message; nothing to check on a capture server.
                break
            default:
                return SMTPReply(555, "5.5.4 Unsupported MAIL parameter \(parameter.keyword)")
            }
        }
        transaction = Transaction(mailFrom: path.address)
        return SMTPReply(250, "2.1.0 Ok")
    }

    private mutating func addRecipient(_ path: MailPath) -> SMTPReply {
        guard transaction != nil else {
            return SMTPReply(503, "5.5.1 Need MAIL before RCPT")
        }
        if let parameter = path.parameters.first {
            return SMTPReply(555, "5.5.4 Unsupported RCPT parameter \(parameter.keyword)")
        }
        guard transaction!.recipients.count < limits.maxRecipients else {
            return SMTPReply(452, "4.5.3 Too many recipients (at most \(limits.maxRecipients))")
        }
        transaction!.recipients.append(path.address)
        return SMTPReply(250, "2.1.5 Ok")
    }

    private mutating func startData() -> SMTPReply {
        guard let transaction else {
            return SMTPReply(503, "5.5.1 Need MAIL command")
        }
        guard !transaction.recipients.isEmpty else {
            return SMTPReply(503, "5.5.1 Need RCPT command")
        }
        phase = .messageData(MessageDataReader(maxBytes: limits.maxMessageBytes))
        return SMTPReply(354, "End data with <CR><LF>.<CR><LF>")
    }

    private mutating func finishMessage(_ reader: MessageDataReader) -> [Output] {
        guard let transaction else { return [] }  // DATA is only accepted inside a transaction
        self.transaction = nil
        if reader.isOversized {
            return [.reply(SMTPReply(552, "5.3.4 message too big"))]
        }
        return [.deliver(CapturedMessage(mailFrom: transaction.mailFrom, recipients: transaction.recipients, content: reader.content))]
    }

    private mutating func startAuth(mechanism: String, initialResponse: String?) -> [Output] {
        guard hello == .ehlo else {
            return [.reply(SMTPReply(503, "5.5.1 EHLO first (AUTH is an ESMTP extension)"))]
        }
        guard !isAuthenticated else {
            return [.reply(SMTPReply(503, "5.5.1 Already authenticated"))]
        }
        guard transaction == nil else {
            return [.reply(SMTPReply(503, "5.5.1 AUTH is not allowed during a mail transaction"))]
        }
        return [.reply(apply(AuthExchange.begin(mechanism: mechanism, initialResponse: initialResponse)))]
    }

    private mutating func continueAuth(_ exchange: AuthExchange, with bytes: [UInt8]) -> [Output] {
        let line = Self.decodeUTF8(bytes) ?? ""
        return [.reply(apply(exchange.respond(line)))]
    }

    private mutating func apply(_ step: AuthExchange.Step) -> SMTPReply {
        switch step {
        case .challenge(let next, let reply):
            phase = .authenticating(next)
            return reply
        case .finished(let reply, let succeeded):
            phase = .commands
            isAuthenticated = succeeded
            return reply
        }
    }

    /// nil for bytes that are not UTF-8: a lossy decode would hand the client's garbage on as U+FFFD.
    private static func decodeUTF8(_ bytes: [UInt8]) -> String? {
        let failed = transcode(bytes.makeIterator(), from: UTF8.self, to: UTF8.self, stoppingOnError: true) { _ in }
        return failed ? nil : String(decoding: bytes, as: UTF8.self)
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
