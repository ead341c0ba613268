// The SMTP state machine on its own: every command, ordering and syntax errors, AUTH, limits, no sockets.
import Testing
@testable import MailCapture

@Suite("SMTP conversation")
struct SMTPConversationTests {
    @Test func greetingNamesTheHost() {
        let dialogue = Dialogue()
        #expect(dialogue.conversation.greeting.wireText == "220 test.capture stagefix capture ESMTP\r\n")
    }

    @Test func ehloAdvertisesExtensionsButNotStartTLS() {
        var dialogue = Dialogue(maxMessageBytes: 4096)
        let replies = dialogue.feed("EHLO client.example\r\n").compactMap(\.reply)
        #expect(replies.map(\.wireText) == [
            "250-test.capture\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 4096\r\n250 AUTH PLAIN LOGIN\r\n",
        ])
        #expect(dialogue.say("STARTTLS") == [502])
    }

    @Test func heloWorksAndNeedsAName() {
        var dialogue = Dialogue()
        #expect(dialogue.feed("HELO client.example\r\n").compactMap(\.reply) == [SMTPReply(250, "test.capture")])
        #expect(dialogue.say("HELO") == [501])
        #expect(dialogue.say("EHLO") == [501])
    }

    @Test func aWholeTransactionDeliversTheMessage() {
        var dialogue = Dialogue()
        #expect(dialogue.say("EHLO client.example") == [250])
        #expect(dialogue.say("MAIL FROM:<alice@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<bob@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<carol@example.com>") == [250])
        #expect(dialogue.feed("DATA\r\n").compactMap(\.reply) == [SMTPReply(354, "End data with <CR><LF>.<CR><LF>")])
        #expect(dialogue.feed("Subject: hi\r\n\r\nHello.\r\n") == [])
        let outputs = dialogue.feed(".\r\n")
        #expect(outputs == [.deliver(CapturedMessage(
            mailFrom: "alice@example.com",
            recipients: ["bob@example.com", "carol@example.com"],
            content: Array("Subject: hi\r\n\r\nHello.\r\n".utf8)
        ))])
        #expect(SMTPReply.queued(as: "ID1").wireText == "250 2.0.0 Ok: queued as ID1\r\n")
        // The transaction is over: a new one starts cleanly.
        #expect(dialogue.say("RCPT TO:<x@example.com>") == [503])
        #expect(dialogue.say("MAIL FROM:<alice@example.com>") == [250])
    }

    @Test func commandsAreCaseInsensitive() {
        var dialogue = Dialogue()
        #expect(dialogue.say("ehlo client.example") == [250])
        #expect(dialogue.say("mail from:<a@example.com> size=10 body=8bitmime smtputf8") == [250])
        #expect(dialogue.say("Rcpt To:<b@example.com>") == [250])
        #expect(dialogue.say("dAtA") == [354])
        #expect(dialogue.feed("x\r\n.\r\n").compactMap(\.message).map(\.recipients) == [["b@example.com"]])
        #expect(dialogue.say("noop") == [250])
        #expect(dialogue.say("rset") == [250])
        #expect(dialogue.say("quit") == [221])
    }

    @Test func wrongOrderIsRefusedWith503() {
        var dialogue = Dialogue()
        #expect(dialogue.say("EHLO client.example") == [250])
        #expect(dialogue.say("RCPT TO:<b@example.com>") == [503])
        #expect(dialogue.say("DATA") == [503])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [250])
        #expect(dialogue.say("DATA") == [503])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [503])
        #expect(dialogue.say("RCPT TO:<b@example.com>") == [250])
        #expect(dialogue.say("DATA") == [354])
    }

    @Test func syntaxErrorsAre501() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        #expect(dialogue.say("MAIL") == [501])
        #expect(dialogue.say("MAIL TO:<a@example.com>") == [501])
        #expect(dialogue.say("MAIL FROM:a@example.com") == [501])
        #expect(dialogue.say("MAIL FROM:<a@example.com") == [501])
        #expect(dialogue.say("MAIL FROM:<a@example.com>junk") == [501])
        #expect(dialogue.say("MAIL FROM:<a@example.com> SIZE=12x") == [501])
        #expect(dialogue.say("MAIL FROM:<a@example.com> BODY=BINARYMIME") == [501])
        #expect(dialogue.say("MAIL FROM:<a@example.com> =x") == [501])
        #expect(dialogue.say("DATA now") == [501])
        #expect(dialogue.say("RSET please") == [501])
        #expect(dialogue.say("VRFY") == [501])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<>") == [501])
        #expect(dialogue.say("RCPT TO:b@example.com") == [501])
    }

    @Test func unknownParametersAre555() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        #expect(dialogue.say("MAIL FROM:<a@example.com> RET=HDRS") == [555])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<b@example.com> NOTIFY=NEVER") == [555])
    }

    @Test func controlCharactersInAddressesAreRefused() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        // A lone CR is not a line end, so it reaches the parser; in a stored header it could forge a header line.
        #expect(dialogue.say("MAIL FROM:<a\rX-Forged: yes@example.com>") == [501])
        #expect(dialogue.say("MAIL FROM:<a\u{7}@example.com>") == [501])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<b\r@example.com>") == [501])
    }

    @Test func addressFormsThatAreAccepted() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        // A space after the colon breaks RFC 5321 but is common; a quoted local part may hold ">" and spaces.
        #expect(dialogue.say("MAIL FROM: <a@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<\"odd > name\"@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<@relay.example:c@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<jörg@exämple.com>") == [250])
        _ = dialogue.say("DATA")
        let message = dialogue.feed(".\r\n").compactMap(\.message).first
        #expect(message?.recipients == ["\"odd > name\"@example.com", "c@example.com", "jörg@exämple.com"])
    }

    @Test func theNullSenderIsAllowed() {
        var dialogue = Dialogue()
        dialogue.openData(from: "")
        let message = dialogue.feed("bounce\r\n.\r\n").compactMap(\.message).first
        #expect(message?.mailFrom == "")
        #expect(message?.content == Array("bounce\r\n".utf8))
    }

    @Test func declaredSizeOverTheLimitIs552() {
        var dialogue = Dialogue(maxMessageBytes: 1000)
        _ = dialogue.say("EHLO client.example")
        #expect(dialogue.feed("MAIL FROM:<a@example.com> SIZE=1001\r\n").compactMap(\.reply).map(\.wireText)
            == ["552 5.3.4 Message size exceeds the limit of 1000 bytes\r\n"])
        #expect(dialogue.say("MAIL FROM:<a@example.com> SIZE=99999999999999999999999") == [552])
        #expect(dialogue.say("MAIL FROM:<a@example.com> SIZE=1000") == [250])
    }

    @Test func unknownAndUnimplementedCommands() {
        var dialogue = Dialogue()
        #expect(dialogue.say("FROB") == [500])
        #expect(dialogue.say("") == [500])
        #expect(dialogue.say("EXPN staff") == [502])
        #expect(dialogue.say("BDAT 10 LAST") == [502])
    }

    @Test func noopVrfyHelpAndQuit() {
        var dialogue = Dialogue()
        #expect(dialogue.say("NOOP") == [250])
        #expect(dialogue.say("NOOP anything at all") == [250])
        #expect(dialogue.say("VRFY bob") == [252])
        #expect(dialogue.say("HELP") == [214])
        let quit = dialogue.feed("QUIT\r\n")
        #expect(quit == [.reply(SMTPReply(221, "2.0.0 Bye")), .close])
        #expect(dialogue.conversation.isClosed)
        // After QUIT nothing more is answered.
        #expect(dialogue.feed("NOOP\r\n") == [])
    }

    @Test func rsetClearsTheTransactionButKeepsTheEhlo() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        _ = dialogue.say("MAIL FROM:<a@example.com>")
        _ = dialogue.say("RCPT TO:<b@example.com>")
        #expect(dialogue.say("RSET") == [250])
        #expect(dialogue.say("RCPT TO:<b@example.com>") == [503])
        #expect(dialogue.say("DATA") == [503])
        // AUTH needs EHLO: it still works after RSET.
        #expect(dialogue.say("AUTH PLAIN AHVzZXIAcGFzcw==") == [235])
        #expect(dialogue.say("MAIL FROM:<new@example.com>") == [250])
    }

    @Test func ehloInsideATransactionStartsOver() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        _ = dialogue.say("MAIL FROM:<a@example.com>")
        #expect(dialogue.say("EHLO client.example") == [250])
        #expect(dialogue.say("RCPT TO:<b@example.com>") == [503])
    }

    @Test func tooManyRecipientsIs452() {
        var dialogue = Dialogue(maxRecipients: 2)
        _ = dialogue.say("EHLO client.example")
        _ = dialogue.say("MAIL FROM:<a@example.com>")
        #expect(dialogue.say("RCPT TO:<1@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<2@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<3@example.com>") == [452])
        _ = dialogue.say("DATA")
        #expect(dialogue.feed(".\r\n").compactMap(\.message).first?.recipients == ["1@example.com", "2@example.com"])
    }

    @Test func dotStuffingIsUndone() {
        var dialogue = Dialogue()
        dialogue.openData()
        let wire = "..\r\n...\r\n..leading\r\n.single\r\nmiddle . dot\r\n .\r\n.. \r\n"
        #expect(dialogue.feed(wire) == [])
        let message = dialogue.feed(".\r\n").compactMap(\.message).first
        #expect(message.map { String(decoding: $0.content, as: UTF8.self) }
            == ".\r\n..\r\n.leading\r\nsingle\r\nmiddle . dot\r\n .\r\n. \r\n")
    }

    @Test func theLastLineKeepsItsCRLF() {
        // A client adds CRLF to a body that lacks one before the "."; that CRLF ends the last line and is stored.
        var dialogue = Dialogue()
        dialogue.openData()
        let message = dialogue.feed("Subject: x\r\n\r\nno newline of its own\r\n.\r\n").compactMap(\.message).first
        #expect(message?.content == Array("Subject: x\r\n\r\nno newline of its own\r\n".utf8))
    }

    @Test func aDotInsideTheLastLineDoesNotEndTheMessage() {
        var dialogue = Dialogue()
        dialogue.openData()
        #expect(dialogue.feed("the end.\r\n") == [])
        #expect(dialogue.feed("x.\r\n") == [])
        #expect(dialogue.feed(".\r\n").compactMap(\.message).first?.content == Array("the end.\r\nx.\r\n".utf8))
    }

    @Test func bareLFLinesAreKeptAsTheyCame() {
        var dialogue = Dialogue()
        dialogue.openData()
        let message = dialogue.feed("one\ntwo\r\n..three\n.\n").compactMap(\.message).first
        #expect(message?.content == Array("one\ntwo\r\n.three\n".utf8))
    }

    @Test func anEmptyMessageIsDelivered() {
        var dialogue = Dialogue()
        dialogue.openData()
        #expect(dialogue.feed(".\r\n").compactMap(\.message).first?.content == [])
    }

    @Test func aMessageSplitAcrossReadsIsReassembled() {
        var dialogue = Dialogue()
        dialogue.openData()
        var outputs: [SMTPConversation.Output] = []
        for chunk in ["Sub", "ject: a\r", "\n\r\nbo", "dy\r\n.", "\r", "\n"] {
            outputs += dialogue.feed(chunk)
        }
        #expect(outputs.compactMap(\.message).first?.content == Array("Subject: a\r\n\r\nbody\r\n".utf8))
    }

    @Test func aMessageOverTheLimitIsReadToItsEndThen552AndTheNextOneWorks() {
        var dialogue = Dialogue(maxMessageBytes: 100)
        dialogue.openData()
        let big = String(repeating: "0123456789012345678\r\n", count: 10)  // 210 bytes
        #expect(dialogue.feed(big) == [])
        #expect(dialogue.feed(".\r\n") == [.reply(SMTPReply(552, "5.3.4 message too big"))])
        #expect(dialogue.say("RCPT TO:<b@example.com>") == [503])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [250])
        #expect(dialogue.say("RCPT TO:<b@example.com>") == [250])
        #expect(dialogue.say("DATA") == [354])
        #expect(dialogue.feed("small\r\n.\r\n").compactMap(\.message).first?.content == Array("small\r\n".utf8))
    }

    @Test func aMessageOfExactlyTheLimitIsKept() {
        var dialogue = Dialogue(maxMessageBytes: 10)
        dialogue.openData()
        #expect(dialogue.feed("12345678\r\n.\r\n").compactMap(\.message).first?.content == Array("12345678\r\n".utf8))
    }

    @Test func severalMessagesInOneConversation() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        var messages: [CapturedMessage] = []
        for index in 1...3 {
            _ = dialogue.say("MAIL FROM:<sender\(index)@example.com>")
            _ = dialogue.say("RCPT TO:<r\(index)@example.com>")
            _ = dialogue.say("DATA")
            messages += dialogue.feed("message \(index)\r\n.\r\n").compactMap(\.message)
        }
        #expect(messages.map(\.mailFrom) == ["sender1@example.com", "sender2@example.com", "sender3@example.com"])
        #expect(messages.map { String(decoding: $0.content, as: UTF8.self) } == ["message 1\r\n", "message 2\r\n", "message 3\r\n"])
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() {
        var dialogue = Dialogue()
        let outputs = dialogue.feed(
            "EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n"
        )
        #expect(outputs.map { output -> String in
            switch output {
            case .reply(let reply): "\(reply.code)"
            case .deliver: "deliver"
            case .close: "close"
            }
        } == ["250", "250", "250", "501", "354", "deliver", "250", "221", "close"])
    }

    @Test func authPlainWithAnInitialResponse() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        // "\0user\0secret"
        #expect(dialogue.feed("AUTH PLAIN AHVzZXIAc2VjcmV0\r\n").compactMap(\.reply)
            == [SMTPReply(235, "2.7.0 Authentication successful")])
        #expect(dialogue.say("AUTH PLAIN AHVzZXIAc2VjcmV0") == [503])
    }

    @Test func authPlainWithAChallenge() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        #expect(dialogue.feed("auth plain\r\n").compactMap(\.reply).map(\.wireText) == ["334 \r\n"])
        #expect(dialogue.say("AHVzZXIAc2VjcmV0") == [235])
    }

    @Test func authLoginExchange() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        #expect(dialogue.feed("AUTH LOGIN\r\n").compactMap(\.reply) == [SMTPReply(334, "VXNlcm5hbWU6")])
        #expect(dialogue.feed("dXNlcg==\r\n").compactMap(\.reply) == [SMTPReply(334, "UGFzc3dvcmQ6")])
        #expect(dialogue.say("c2VjcmV0") == [235])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [250])
    }

    @Test func authLoginWithTheUsernameUpFront() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        #expect(dialogue.feed("AUTH LOGIN dXNlcg==\r\n").compactMap(\.reply) == [SMTPReply(334, "UGFzc3dvcmQ6")])
        #expect(dialogue.say("c2VjcmV0") == [235])
    }

    @Test func authFailuresAndCancellation() {
        var dialogue = Dialogue()
        #expect(dialogue.say("AUTH PLAIN AHVzZXIAc2VjcmV0") == [503])
        _ = dialogue.say("HELO client.example")
        #expect(dialogue.say("AUTH PLAIN AHVzZXIAc2VjcmV0") == [503])
        _ = dialogue.say("EHLO client.example")
        #expect(dialogue.say("AUTH CRAM-MD5") == [504])
        #expect(dialogue.say("AUTH") == [501])
        #expect(dialogue.say("AUTH PLAIN !!notbase64!!") == [501])
        #expect(dialogue.say("AUTH PLAIN dXNlcg==") == [501])
        #expect(dialogue.say("AUTH LOGIN") == [334])
        #expect(dialogue.say("*") == [501])
        // Back to commands after the cancel.
        #expect(dialogue.say("NOOP") == [250])
        _ = dialogue.say("MAIL FROM:<a@example.com>")
        #expect(dialogue.say("AUTH PLAIN AHVzZXIAc2VjcmV0") == [503])
    }

    @Test func commandLinesOverTheLimitAre500AndTheConversationGoesOn() {
        var dialogue = Dialogue()
        _ = dialogue.say("EHLO client.example")
        let atLimit = "NOOP " + String(repeating: "x", count: 998 - 5)
        #expect(dialogue.say(atLimit) == [250])
        #expect(dialogue.feed(atLimit + "y\r\n").compactMap(\.reply)
            == [SMTPReply(500, "5.5.2 Line too long (at most 1000 bytes with CRLF)")])
        #expect(dialogue.say("MAIL FROM:<a@example.com>") == [250])
        // The transaction survived the long line.
        #expect(dialogue.say("MAIL FROM:" + String(repeating: "a", count: 5000)) == [500])
        #expect(dialogue.say("RCPT TO:<b@example.com>") == [250])
    }

    @Test func aLongLineArrivingInPiecesIsStillOneLine() {
        // Small pieces: the framer cuts the line, the conversation still sees a single too-long command.
        var dialogue = Dialogue(maxPieceBytes: 64)
        // Without a line end in sight the framer must cut; with one it would hand over the whole line.
        #expect(dialogue.feed("NOOP " + String(repeating: "x", count: 3000)) == [])
        #expect(dialogue.framer.nextPiece() == nil)
        #expect(dialogue.feed("\r\nNOOP\r\n").compactMap(\.reply).map(\.code) == [500, 250])
    }

    @Test func longMessageLinesAreKeptWholeAndOnlyTheirStartIsUnstuffed() {
        var dialogue = Dialogue(maxPieceBytes: 64)
        dialogue.openData()
        // The cut falls inside the line; a piece that starts with "." mid-line must keep its dot.
        let line = "." + String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 200)
        #expect(dialogue.feed(line) == [])
        let message = dialogue.feed("\r\n.\r\n").compactMap(\.message).first
        #expect(message?.content == Array((String(line.dropFirst()) + "\r\n").utf8))
    }

    @Test func nonUTF8CommandsAreRefused() {
        var dialogue = Dialogue()
        let outputs = dialogue.feed([0x4E, 0x4F, 0x4F, 0x50, 0x20, 0xFF, 0x0D, 0x0A])
        #expect(outputs.compactMap(\.reply).map(\.code) == [500])
    }

    @Test func eightBitMessageBytesPassUntouched() {
        var dialogue = Dialogue()
        dialogue.openData()
        let body: [UInt8] = Array("Subject: caf".utf8) + [0xC3, 0xA9, 0xFF, 0x0D, 0x0A]
        let message = dialogue.feed(body + Array(".\r\n".utf8)).compactMap(\.message).first
        #expect(message?.content == body)
    }
}
