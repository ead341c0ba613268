// `mail wait`: poll the mailbox cheaply (one stat per folder, a few per second) until a message that
// arrived after the last reset matches; name what was expected and what came when time runs out.
import Foundation
import SSH

public struct MailQuery: Sendable, CustomStringConvertible {
    public var to: String
    public var subject: String?
    public var subjectPattern: String?
    public var headers: [(name: String, value: String)]

    public init(to: String, subject: String? = nil, subjectPattern: String? = nil, headers: [(name: String, value: String)] = []) throws {
        self.to = to.lowercased()
        self.subject = subject
        self.subjectPattern = subjectPattern
        self.headers = headers
        if let subjectPattern, (try? NSRegularExpression(pattern: subjectPattern)) == nil {
            throw StagefixError.usage("--subject-regex \(subjectPattern) is not a valid regular expression")
        }
    }

    public func matches(_ message: MailMessage) -> Bool {
        guard message.recipients.contains(to) else { return false }
        let subjectText = message.subject ?? ""
        if let subject, !subjectText.contains(subject) { return false }
        if let subjectPattern, let regex = try? NSRegularExpression(pattern: subjectPattern),
            regex.firstMatch(in: subjectText, range: NSRange(subjectText.startIndex..., in: subjectText)) == nil
        {
            return false
        }
        return headers.allSatisfy { wanted in message.headerValues(wanted.name).contains(wanted.value) }
    }

    public var description: String {
        var text = "a message to \(to)"
        if let subject { text += " with a subject containing \"\(subject)\"" }
        if let subjectPattern { text += " with a subject matching /\(subjectPattern)/" }
        for header in headers { text += " with \(header.name): \(header.value)" }
        return text
    }
}

public enum MailWait {
    /// Seconds between polls: at most 4 stats a second per folder while nothing changes.
    static let pollInterval = 0.25

    /// `serverClockOffset`: the server's clock minus ours, in seconds (see `serverClockOffset(session:)`).
    public static func wait(_ mailbox: Mailbox, host: String, query: MailQuery, since explicitSince: Double?, timeout: Double, keep: Bool, serverClockOffset: Double, trace: (@Sendable (String) -> Void)?) throws -> MailboxEntry {
        let started = Date()
        let since = try explicitSince ?? mailbox.lastReset()
        var lastToken: String?
        var arrived: [MailboxEntry] = []
        // The polling budget is measured after the first full read.
        var pollingSince: (time: Date, requests: Int)?
        func pollingRate() -> String {
            guard let start = pollingSince else { return "no polling" }
            let seconds = Date().timeIntervalSince(start.time)
            return String(format: "polling: %d SFTP requests in %.2f s (%.1f/s)", mailbox.requests - start.requests, seconds, Double(mailbox.requests - start.requests) / max(seconds, 0.001))
        }
        while true {
            let (token, newest) = try mailbox.changeToken()
            // mtimes are whole seconds: while the newest change is this second or the last, another
            // message may have come without changing them, so look again.
            let serverNow = Date().timeIntervalSince1970 + serverClockOffset
            if token != lastToken || Double(newest) >= serverNow - 1.5 {
                lastToken = token
                arrived = try mailbox.messages(since: since)
                if let match = arrived.first(where: { query.matches($0.message) }) {
                    if !keep { try mailbox.consume(match) }
                    trace?(String(format: "found %@ after %.2f s; ", match.file, Date().timeIntervalSince(started)) + pollingRate())
                    return match
                }
            }
            if pollingSince == nil { pollingSince = (Date(), mailbox.requests) }
            if Date().timeIntervalSince(started) >= timeout {
                trace?(String(format: "nothing matched after %.2f s; ", Date().timeIntervalSince(started)) + pollingRate())
                let seen = arrived.map { entry in "\(entry.message.recipients.joined(separator: ",")): \(entry.message.subject ?? "(no subject)")" }
                throw StagefixError.timedOut(
                    "waited \(formatSeconds(timeout)) for \(query) on \(host) (\(mailbox.source)); "
                        + (seen.isEmpty ? "nothing arrived" + (since == nil ? "" : " since the last reset") : "arrived instead: " + seen.joined(separator: "; ")))
            }
            Thread.sleep(forTimeInterval: min(pollInterval, max(0.01, timeout - Date().timeIntervalSince(started))))
        }
    }

    /// The server's clock minus ours, from one `date` on the host (mailbox times are the server's).
    public static func serverClockOffset(session: SSHSession, timeout: Double) -> Double {
        let before = Date().timeIntervalSince1970
        guard let result = try? session.capture("date +%s.%N 2>/dev/null || date +%s", timeout: timeout),
            let server = Double(String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: ".%N", with: ""))
        else { return 0 }
        let after = Date().timeIntervalSince1970
        return server - (before + after) / 2
    }

    /// `--format json`: headers, decoded parts and every link.
    /// `host` nil: a mailbox on this machine.
    public static func json(_ entry: MailboxEntry, host: String?, source: MailSource) -> [String: Any] {
        let message = entry.message
        return [
            "ok": true, "host": host ?? NSNull(), "source": source.description,
            "message": [
                "headers": message.headers.map { [$0.name, $0.value] },
                "subject": message.subject ?? NSNull(), "from": message.from ?? NSNull(), "to": message.recipients,
                "date": message.date.map { ISO8601DateFormatter().string(from: $0) } ?? NSNull(),
                "arrived": entry.arrived, "text": message.textBody ?? NSNull(), "html": message.htmlBody ?? NSNull(),
                "links": message.links,
            ] as [String: Any],
        ]
    }

    /// The first link, or the first matching `pattern` (empty: any).
    public static func link(in message: MailMessage, matching pattern: String) throws -> String {
        let regex = pattern.isEmpty ? nil : try? NSRegularExpression(pattern: pattern)
        if !pattern.isEmpty && regex == nil { throw StagefixError.usage("--link \(pattern) is not a valid regular expression") }
        let found = message.links.first { link in
            regex.map { $0.firstMatch(in: link, range: NSRange(link.startIndex..., in: link)) != nil } ?? true
        }
        guard let found else {
            throw StagefixError.invalidData("the message \"\(message.subject ?? "")\" has no link" + (pattern.isEmpty ? "" : " matching /\(pattern)/") + (message.links.isEmpty ? "" : "; its links: " + message.links.joined(separator: " ")))
        }
        return found
    }
}
