import Testing

@testable import StagefixCore

@Suite("Splitting files written by Django's file-based email backend")
struct DjangoMailFileTests {
    static let separator = "\n" + String(repeating: "-", count: 79) + "\n"

    @Test("A file with three messages splits into three complete messages")
    func threeMessages() throws {
        let file = try Fixture.djangoFileBased3Messages.bytes
        let (messages, incompleteTail) = DjangoMailFile.split(file)
        #expect(messages.count == 3)
        #expect(incompleteTail == false)

        let parsed = try messages.map(MailMessage.parse)
        #expect(parsed.map(\.subject) == [Sample.subject, "Second message", Sample.subject])
        #expect(parsed.map(\.recipients) == [["edith@example.com", "francis@example.com"], ["second@example.com"], ["edith@example.com", "francis@example.com"]])
        #expect(parsed[0].links == [Sample.loginURL])
        #expect(parsed[2].links == [Sample.loginURL])
    }

    @Test("A line of 79 dashes inside a body does not split the message")
    func dashRuleInBody() throws {
        let (messages, _) = DjangoMailFile.split(try Fixture.djangoFileBased3Messages.bytes)
        let second = try MailMessage.parse(try #require(messages.dropFirst().first))
        #expect(second.textBody == "Plain body\nwith a rule:\n" + String(repeating: "-", count: 79) + "\nThanks,\nSuperlists\n")
    }

    @Test("A truncated copy gives two messages and an incomplete tail")
    func truncatedCopy() throws {
        let file = try Fixture.djangoFileBased3Messages.bytes
        let (complete, _) = DjangoMailFile.split(file)
        let thirdStart = complete[0].count + complete[1].count + 2 * Self.separator.utf8.count
        let truncated = Array(file[..<(thirdStart + complete[2].count / 2)])

        let (messages, incompleteTail) = DjangoMailFile.split(truncated)
        #expect(messages == Array(complete.prefix(2)))
        #expect(incompleteTail == true)
    }

    @Test("Cutting the file anywhere yields only complete messages, in order")
    func everyCutPoint() throws {
        let file = try Fixture.djangoFileBased3Messages.bytes
        let (complete, _) = DjangoMailFile.split(file)
        var ends: [Int] = []  // file offsets just after each separator
        var offset = 0
        for message in complete {
            offset += message.count + Self.separator.utf8.count
            ends.append(offset)
        }
        // Known ambiguity (see `ambiguousCutAfterBodyRule`): a cut right after the dash rule
        // inside message 2's body, until the line break after "Thanks," shows it is no header.
        let rule = ("with a rule:" + Self.separator).bytes
        let ruleEnd = try #require(file.indexOf(rule)) + rule.count
        let ambiguous = ruleEnd...(ruleEnd + "Thanks,".utf8.count)
        for cut in 0...file.count where !ambiguous.contains(cut) {
            let (messages, incompleteTail) = DjangoMailFile.split(Array(file[..<cut]))
            let expectedCount = ends.filter { $0 <= cut }.count
            #expect(messages == Array(complete.prefix(expectedCount)), "cut at \(cut)")
            #expect(incompleteTail == !(cut == 0 || ends.contains(cut)), "cut at \(cut)")
        }
    }

    @Test("A cut just after a dash rule inside a body is taken for a message boundary (known limitation)")
    func ambiguousCutAfterBodyRule() {
        let body = "Subject: two\n\nwith a rule:" + Self.separator + "Thanks,\n" + Self.separator
        #expect(DjangoMailFile.split(body.bytes).messages.count == 1)
        // Once "Thanks," is there it is clearly body text; before that it cannot be told apart.
        let cut = "Subject: two\n\nwith a rule:" + Self.separator + "Tha"
        let (messages, incompleteTail) = DjangoMailFile.split(cut.bytes)
        #expect(messages == ["Subject: two\n\nwith a rule:".bytes])
        #expect(incompleteTail)
    }

    @Test("A dash rule followed by header-like body lines does not split the message")
    func headerLikeLinesAfterRule() {
        let message = "Subject: s\n\nrule:" + Self.separator + "Note: this is body text\nThanks,\n"
        let (messages, incompleteTail) = DjangoMailFile.split((message + Self.separator).bytes)
        #expect(messages == [message.bytes])
        #expect(incompleteTail == false)
    }

    @Test("A dash rule followed by a header block and an empty line is taken for a boundary (known limitation)")
    func headerBlockAfterRule() {
        let message = "Subject: s\n\nforwarded:" + Self.separator + "From: a@example.com\n\nhello"
        #expect(DjangoMailFile.split((message + Self.separator).bytes).messages.count == 2)
    }

    @Test("A cut inside a separator leaves the message incomplete")
    func cutInsideSeparator() {
        let message = "Subject: one\n\nbody"
        let partial = message + "\n" + String(repeating: "-", count: 40)
        let (messages, incompleteTail) = DjangoMailFile.split(partial.bytes)
        #expect(messages.isEmpty)
        #expect(incompleteTail)
    }

    @Test("An empty file has no messages and no tail")
    func emptyFile() {
        let (messages, incompleteTail) = DjangoMailFile.split([])
        #expect(messages.isEmpty)
        #expect(incompleteTail == false)
    }

    @Test("A message being written whose first header name is cut short is still a tail")
    func partialHeaderNameAfterSeparator() {
        let file = "Subject: one\n\nbody" + Self.separator + "Conte"
        let (messages, incompleteTail) = DjangoMailFile.split(file.bytes)
        #expect(messages == ["Subject: one\n\nbody".bytes])
        #expect(incompleteTail)
    }
}

extension Array where Element == UInt8 {
    func indexOf(_ needle: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= count else { return nil }
        return (0...(count - needle.count)).first { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
