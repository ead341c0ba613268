// `stagefix mail wait|list|reset HOST`: the email the staging site sends, read from its mailbox on the
// server (guarded like every fixture: reading and deleting mail changes the host).
import ArgumentParser
import Foundation
import StagefixCore

struct MailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "Wait for the site's email, follow its link, reset the mailbox.",
        discussion: """
            The mailbox is on the host: maildir:PATH (a capture server or MTA writes it) or
            django-files:PATH (Django's file email backend), from --source or `mail:` in
            stagefix.yml. Only messages that arrived after the last `mail reset` (or --since) count.

            Examples:
              stagefix mail reset staging.example.com
              stagefix mail wait staging.example.com --to edith@example.com --subject "login link" --link
              stagefix mail wait staging.example.com --to edith@example.com --header X-Superlists-Notification-Type=login --format json
            """,
        subcommands: [Wait.self, List.self, Reset.self]
    )

    struct MailOptions: ParsableArguments {
        @OptionGroup var target: HostOptions

        @Option(help: ArgumentHelp("maildir:PATH or django-files:PATH on the host (default: `mail:` in stagefix.yml).", valueName: "source"))
        var source: String?

        @Option(help: "text or json.")
        var format: OutputFormatOption = .text

        /// Opens the guarded connection and the mailbox.
        func open() throws -> (fixture: SiteConnection, mailbox: RemoteMailbox) {
            if let source { _ = try MailSource(parsing: source) }
            let fixture = try SiteConnection.open(target)
            do {
                guard let text = source ?? fixture.settings.mailSource else {
                    throw StagefixError.configuration("no mail source for \(target.host): pass --source maildir:PATH or django-files:PATH, or set `mail:` for the host in stagefix.yml")
                }
                let mailbox = try RemoteMailbox(session: fixture.site.session, source: try MailSource(parsing: text), host: target.host, timeout: target.timeout)
                return (fixture, mailbox)
            } catch {
                fixture.close()
                throw error
            }
        }
    }

    struct Wait: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait for a matching message that arrived after the last reset; print its text, or its link.",
            discussion: """
                --timeout bounds the whole wait (default 30 s). Exits 75 when none arrives in time,
                naming what it waited for and what came instead.
                A returned message is removed from the mailbox unless --keep.
                """)

        @OptionGroup var mail: MailOptions

        @Option(help: ArgumentHelp("The recipient.", valueName: "email"))
        var to: String

        @Option(help: ArgumentHelp("Text the subject contains.", valueName: "text"))
        var subject: String?

        @Option(name: .customLong("subject-regex"), help: ArgumentHelp("A regular expression the subject matches.", valueName: "re"))
        var subjectRegex: String?

        @Option(name: .customLong("header"), help: ArgumentHelp("A header the message carries (repeat).", valueName: "name=value"))
        var headers: [String] = []

        @Option(help: ArgumentHelp("Print the message's first link (matching REGEX if given) instead of its text.", valueName: "regex"))
        var link: String?

        @Option(help: ArgumentHelp("Only messages from this point: a mark from `mail reset`, seconds since 1970 or an ISO 8601 time.", valueName: "mark"))
        var since: String?

        @Flag(help: "Leave the message in the mailbox.")
        var keep = false

        func validate() throws {
            for header in headers where !header.contains("=") { throw ValidationError("--header \(header): write NAME=VALUE") }
        }

        func run() throws {
            try Reporting.run(json: mail.format == .json) {
                _ = try EmailAddress(to)
                let query = try MailQuery(to: to, subject: subject, subjectPattern: subjectRegex, headers: headers.map { header in
                    let equals = header.firstIndex(of: "=")!
                    return (String(header[..<equals]), String(header[header.index(after: equals)...]))
                })
                let since = try since.map { try MailMark(parsing: $0).seconds }
                let (fixture, mailbox) = try mail.open()
                defer { fixture.close() }
                let offset = MailWait.serverClockOffset(session: fixture.site.session, timeout: mail.target.timeout)
                let entry = try MailWait.wait(mailbox, host: mail.target.host, query: query, since: since, timeout: mail.target.timeout, keep: keep, serverClockOffset: offset, trace: mail.target.connectionRequest.trace)
                fixture.audit(command: "mail wait --to \(to)\(keep ? " --keep" : "")", exitStatus: 0)
                if mail.format == .json {
                    StandardStreams.printOut(JSONOutput.encode(MailWait.json(entry, host: mail.target.host, source: mailbox.source)))
                } else if let link {
                    StandardStreams.printOut(try MailWait.link(in: entry.message, matching: link))
                } else {
                    let text = entry.message.textBody ?? entry.message.htmlBody ?? ""
                    StandardStreams.write(text.hasSuffix("\n") ? text : text + "\n", to: 1)
                }
                return 0
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The messages waiting in the mailbox (since the last reset).")

        @OptionGroup var mail: MailOptions

        func run() throws {
            try Reporting.run(json: mail.format == .json) {
                let (fixture, mailbox) = try mail.open()
                defer { fixture.close() }
                let entries = try mailbox.messages(since: try mailbox.lastReset())
                if mail.format == .json {
                    StandardStreams.printOut(JSONOutput.encode(["ok": true, "host": mail.target.host, "source": mailbox.source.description, "messages": entries.map {
                        ["to": $0.message.recipients, "subject": $0.message.subject ?? NSNull(), "arrived": $0.arrived, "links": $0.message.links] as [String: Any]
                    }]))
                } else {
                    for entry in entries {
                        let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: entry.arrived))
                        StandardStreams.printOut("\(time)  \(entry.message.recipients.joined(separator: ","))  \(entry.message.subject ?? "(no subject)")")
                    }
                }
                return 0
            }
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Empty the mailbox; prints a mark for `mail wait --since`.")

        @OptionGroup var mail: MailOptions

        func run() throws {
            try Reporting.run(json: mail.format == .json) {
                let (fixture, mailbox) = try mail.open()
                defer { fixture.close() }
                let mark = try mailbox.reset()
                fixture.audit(command: "mail reset", exitStatus: 0)
                StandardStreams.printOut(mail.format == .json ? JSONOutput.encode(["ok": true, "host": mail.target.host, "mark": mark.description]) : mark.description)
                return 0
            }
        }
    }
}
