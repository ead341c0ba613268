// One SMTP command line parsed: the verb (any case) and its checked arguments, or the 5xx reply a bad line earns.

enum SMTPCommand: Equatable, Sendable {
    case helo(domain: String)
    case ehlo(domain: String)
    case mail(MailPath)
    case rcpt(MailPath)
    case data
    case rset
    case noop
    case quit
    case vrfy
    case help
    case auth(mechanism: String, initialResponse: String?)
    /// A real SMTP verb this server does not offer (EXPN, STARTTLS, ...): 502, not 500.
    case notImplemented(verb: String)
    case unrecognized(verb: String)

    /// Verbs from RFC 5321 and common extensions that a client may try but this capture server does not do.
    private static let knownButNotImplemented: Set<String> = [
        "EXPN", "TURN", "ETRN", "ATRN", "BDAT", "STARTTLS", "SEND", "SOML", "SAML",
    ]

    static func parse(_ line: String) throws(CommandSyntaxError) -> SMTPCommand {
        let (verbText, rawArgument) = splitVerb(line)
        let verb = verbText.uppercased()
        let argument = trimTrailingBlanks(rawArgument)
        switch verb {
        case "HELO":
            guard !argument.isEmpty else { throw CommandSyntaxError(501, "5.5.4 Syntax: HELO hostname") }
            return .helo(domain: argument)
        case "EHLO":
            guard !argument.isEmpty else { throw CommandSyntaxError(501, "5.5.4 Syntax: EHLO hostname") }
            return .ehlo(domain: argument)
        case "MAIL":
            return .mail(try MailPath.parse(argument, keyword: "FROM:", allowsNullPath: true))
        case "RCPT":
            return .rcpt(try MailPath.parse(argument, keyword: "TO:", allowsNullPath: false))
        case "DATA":
            guard argument.isEmpty else { throw CommandSyntaxError(501, "5.5.4 Syntax: DATA (no parameters)") }
            return .data
        case "RSET":
            guard argument.isEmpty else { throw CommandSyntaxError(501, "5.5.4 Syntax: RSET (no parameters)") }
            return .rset
        case "NOOP":
            // RFC 5321 4.1.1.9: NOOP may carry a string, which is ignored.
            return .noop
        case "QUIT":
            return .quit
        case "VRFY":
            guard !argument.isEmpty else { throw CommandSyntaxError(501, "5.5.4 Syntax: VRFY address") }
            return .vrfy
        case "HELP":
            return .help
        case "AUTH":
            let words = argument.split(separator: " ", omittingEmptySubsequences: true)
            guard (1...2).contains(words.count) else {
                throw CommandSyntaxError(501, "5.5.4 Syntax: AUTH mechanism [initial-response]")
            }
            return .auth(mechanism: words[0].uppercased(), initialResponse: words.count == 2 ? String(words[1]) : nil)
        default:
            if knownButNotImplemented.contains(verb) {
                return .notImplemented(verb: verb)
            }
            return .unrecognized(verb: verb)
        }
    }

    private static func splitVerb(_ line: String) -> (verb: Substring, argument: Substring) {
        guard let space = line.firstIndex(of: " ") else {
            return (line[...], "")
        }
        return (line[..<space], line[line.index(after: space)...])
    }

    /// Many clients leave a space at the end of a line; it carries no meaning.
    private static func trimTrailingBlanks(_ text: Substring) -> String {
        var end = text.endIndex
        while end > text.startIndex {
            let previous = text.index(before: end)
            guard text[previous] == " " || text[previous] == "\t" else { break }
            end = previous
        }
        return String(text[..<end])
    }
}

/// A command line that does not parse, with the reply to send for it.
struct CommandSyntaxError: Error, Equatable, Sendable {
    let reply: SMTPReply

    init(_ code: Int, _ text: String) {
        reply = SMTPReply(code, text)
    }
}
