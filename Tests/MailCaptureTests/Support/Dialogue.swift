// Drives an SMTPConversation through a LineFramer, as the channel handler does, without sockets.
@testable import MailCapture

struct Dialogue {
    var conversation: SMTPConversation
    var framer: LineFramer

    init(maxMessageBytes: Int = 10_000, maxRecipients: Int = 3, maxPieceBytes: Int = 8192) {
        conversation = SMTPConversation(
            hostname: "test.capture",
            limits: .init(maxMessageBytes: maxMessageBytes, maxRecipients: maxRecipients)
        )
        framer = LineFramer(maxPieceBytes: maxPieceBytes)
    }

    /// Feeds raw bytes (any number of lines, or part of one) and returns everything the conversation answered.
    mutating func feed(_ text: String) -> [SMTPConversation.Output] {
        feed(Array(text.utf8))
    }

    mutating func feed(_ bytes: [UInt8]) -> [SMTPConversation.Output] {
        framer.append(bytes)
        var outputs: [SMTPConversation.Output] = []
        while let piece = framer.nextPiece() {
            outputs += conversation.receive(piece)
        }
        return outputs
    }

    /// One command line with CRLF; the reply codes it got.
    mutating func say(_ line: String) -> [Int] {
        feed(line + "\r\n").compactMap(\.reply).map(\.code)
    }

    /// EHLO, MAIL, RCPT..., DATA: a transaction ready for message lines.
    mutating func openData(from sender: String = "alice@example.com", to recipients: [String] = ["bob@example.com"]) {
        _ = say("EHLO client.example")
        _ = say("MAIL FROM:<\(sender)>")
        for recipient in recipients {
            _ = say("RCPT TO:<\(recipient)>")
        }
        _ = say("DATA")
    }
}

extension SMTPConversation.Output {
    var reply: SMTPReply? {
        if case .reply(let reply) = self { return reply }
        return nil
    }

    var message: CapturedMessage? {
        if case .deliver(let message) = self { return message }
        return nil
    }
}
