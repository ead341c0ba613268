// `stagefix db flush HOST [--yes]`: empty the staging database before a test.
import ArgumentParser
import Foundation
import StagefixCore
#if canImport(Glibc)
import Glibc
#endif

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database fixtures.",
        subcommands: [Flush.self, Mark.self]
    )

    struct Flush: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Empty every table (manage.py flush --noinput) with the server's env.",
            discussion: """
                Without --yes it asks at a terminal (type the host name to confirm) and refuses
                (exit 64) when there is none, so a script must say --yes. --yes never overrides
                the production guard.

                Examples:
                  stagefix db flush staging.example.com
                  stagefix db flush staging.example.com --yes
                """
        )

        @OptionGroup var target: HostOptions

        @Flag(help: "Confirm without asking (for scripts and test suites).")
        var yes = false

        @Option(help: "text or json.")
        var format: OutputFormatOption = .text

        @OptionGroup var warm: WarmOption

        func run() throws {
            if !yes {
                try Reporting.run(json: format == .json) {
                    try Confirmation.requireTypedHostName(target.host, action: "flush the database of")
                    return 0
                }
            }
            try target.perform(.databaseFlush(json: format == .json), warm: warm)
        }
    }
}

extension DatabaseCommand {
    struct Mark: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record the database's role in the database itself (a table flush keeps).",
            discussion: """
                Before any destructive step, stagefix's runner reads this marker over the same
                database connection the step will use: a database marked production is refused
                (77) even when a staging site's settings point at it. stagefix never writes to a
                production database; mark production from its deploy (see the README).
                Marking staging needs the site's own identity (an identity key naming the host), or
                a machine that serves no production site; a database whose name or path names a
                production host is never marked.

                Examples:
                  stagefix db mark staging.example.com staging
                """
        )

        @OptionGroup var target: HostOptions

        @Argument(help: "The role: staging, test or development.")
        var role: String

        @Option(help: "text or json.")
        var format: OutputFormatOption = .text

        func validate() throws {
            guard ["staging", "test", "development"].contains(role) else {
                throw ValidationError("role must be staging, test or development; stagefix never marks (or writes to) production: see the README's one-line deploy snippet")
            }
        }

        func run() throws {
            try Reporting.run(json: format == .json) {
                // Marking staging is evidence the guard later relies on: it needs more than the mark.
                let fixture = try SiteConnection.open(target, scope: role == "staging" ? .markingStaging : .site)
                defer { fixture.close() }
                let runner = try fixture.site.runner()
                try runner.mark(role)
                let marker = try runner.marker()
                fixture.audit(command: "db mark \(role)", exitStatus: 0)
                if format == .json {
                    StandardStreams.printOut(JSONOutput.encode(["ok": true, "host": target.host, "marker": marker.role as Any? ?? NSNull(), "database": marker.database]))
                } else {
                    StandardStreams.printOut("\(target.host): database \(marker.database) marked \(marker.role ?? "?")")
                }
                return 0
            }
        }
    }
}

enum Confirmation {
    /// Asks at the terminal for the host name; without a terminal it is a usage error (64).
    static func requireTypedHostName(_ host: String, action: String) throws {
        guard isatty(0) == 1, let answer = TerminalPrompt.readLine(prompt: "This will \(action) \(host). Type the host name to confirm: ") else {
            throw StagefixError.usage("refusing to \(action) \(host) without confirmation: pass --yes (no terminal to ask at)")
        }
        guard answer.trimmingCharacters(in: .whitespaces) == host else {
            throw StagefixError.usage("confirmation did not match '\(host)'; nothing was done")
        }
    }
}
