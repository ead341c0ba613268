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
            stagefix.yml. Without HOST, --source names a mailbox on this machine, such as the
            Maildir `mail serve` writes. Only messages that arrived after the last `mail reset`
            (or --since) count.

            Examples:
              stagefix mail reset staging.example.com
              stagefix mail wait staging.example.com --to edith@example.com --subject "login link" --link
              stagefix mail wait staging.example.com --to edith@example.com --header X-Superlists-Notification-Type=login --format json
              stagefix mail serve --via staging.example.com --listen 127.0.0.1:2525 --maildir captured
              stagefix mail wait --source maildir:captured --to edith@example.com --link
            """,
        subcommands: [Wait.self, List.self, Reset.self, Serve.self]
    )

    struct MailOptions: ParsableArguments {
        @Argument(help: "The host whose mailbox to read. Omit it for a mailbox on this machine (what `mail serve` writes): then --source is required.")
        var host: String?

        @Option(name: [.customShort("F"), .customLong("ssh-config")], help: ArgumentHelp("OpenSSH client config to read (default ~/.ssh/config, then /etc/ssh/ssh_config).", valueName: "file"))
        var sshConfig: String?

        @Option(name: [.customShort("c"), .customLong("config")], help: ArgumentHelp("stagefix's own config (default: stagefix.yml here or in the nearest parent).", valueName: "file"))
        var config: String?

        @Option(help: ArgumentHelp("Bound on connecting and on the wait, in seconds.", valueName: "seconds"))
        var timeout: Double = 30

        @Flag(name: [.short, .long], help: "Trace each step with its duration (secrets never shown).")
        var verbose = false

        @Option(help: ArgumentHelp("maildir:PATH or django-files:PATH (on the host; on this machine without HOST). Default: `mail:` in stagefix.yml.", valueName: "source"))
        var source: String?

        @Option(help: "text or json.")
        var format: OutputFormatOption = .text

        func validate() throws {
            guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)") }
            if host?.isEmpty == true { throw ValidationError("HOST must not be empty") }
            if host == nil && source == nil {
                throw ValidationError("give HOST, or --source maildir:PATH for a mailbox on this machine (for example the one `stagefix mail serve` writes)")
            }
        }

        /// Where the mailbox is, for messages and JSON.
        var place: String { host ?? "this machine" }

        var trace: (@Sendable (String) -> Void)? { verbose ? Trace.toStandardError : nil }

        /// Opens the mailbox: on the host through the guarded connection, or on this machine (no SSH).
        /// `bounded`: all its requests together stay within --timeout (list, reset; a wait has its own).
        func open(bounded: Bool = false) throws -> (fixture: SiteConnection?, mailbox: Mailbox) {
            let parsed = try source.map { try MailSource(parsing: $0) }
            guard let host else {
                let mailbox = Mailbox(files: LocalFiles(), source: parsed!.resolvedLocally(), host: place)
                _ = try mailbox.folderExists()  // a typo'd source is an error, not an empty mailbox
                return (nil, mailbox)
            }
            let request = ConnectionRequest.fromCommandLine(host: host, sshConfig: sshConfig, timeout: timeout, verbose: verbose)
            let fixture = try SiteConnection.open(request, configPath: config)
            do {
                let mailbox = try fixture.mailbox(source: source, overallSeconds: bounded ? timeout : nil)
                _ = try mailbox.folderExists()  // a typo'd source is an error, not an empty mailbox
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
                defer { fixture?.close() }
                let offset = fixture.map { MailWait.serverClockOffset(session: $0.site.session, timeout: mail.timeout) } ?? 0
                let entry = try MailWait.wait(mailbox, host: mail.place, query: query, since: since, timeout: mail.timeout, keep: keep, serverClockOffset: offset, trace: mail.trace)
                fixture?.audit(command: "mail wait --to \(to)\(keep ? " --keep" : "")", exitStatus: 0)
                if mail.format == .json {
                    StandardStreams.printOut(JSONOutput.encode(MailWait.json(entry, host: mail.host, source: mailbox.source)))
                } else if let link {
                    StandardStreams.printOut(TerminalText.escaped(try MailWait.link(in: entry.message, matching: link)))
                } else {
                    let text = entry.message.textBody ?? entry.message.htmlBody ?? ""
                    let shown = TerminalText.escapedKeepingLines(text)
                    StandardStreams.write(shown.hasSuffix("\n") ? shown : shown + "\n", to: 1)
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
                let (fixture, mailbox) = try mail.open(bounded: true)
                defer { fixture?.close() }
                let entries = try mailbox.messages(since: try mailbox.lastReset())
                if mail.format == .json {
                    StandardStreams.printOut(JSONOutput.encode(["ok": true, "host": mail.host.map { $0 as Any } ?? NSNull(), "source": mailbox.source.description, "messages": entries.map {
                        ["to": $0.message.recipients, "subject": $0.message.subject ?? NSNull(), "arrived": $0.arrived, "links": $0.message.links] as [String: Any]
                    }]))
                } else {
                    for entry in entries {
                        let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: entry.arrived))
                        StandardStreams.printOut("\(time)  \(TerminalText.escaped(entry.message.recipients.joined(separator: ",")))  \(entry.message.subject.map(TerminalText.escaped) ?? "(no subject)")")
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
                let (fixture, mailbox) = try mail.open(bounded: true)
                defer { fixture?.close() }
                let mark = try mailbox.reset()
                fixture?.audit(command: "mail reset", exitStatus: 0)
                StandardStreams.printOut(mail.format == .json ? JSONOutput.encode(["ok": true, "host": mail.host.map { $0 as Any } ?? NSNull(), "mark": mark.description]) : mark.description)
                return 0
            }
        }
    }
}
