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
        subcommands: [Flush.self]
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

        func run() throws {
            try Reporting.run(json: format == .json) {
                if !yes { try Confirmation.requireTypedHostName(target.host, action: "flush the database of") }
                let fixture = try SiteConnection.open(target)
                defer { fixture.close() }
                try fixture.site.flushDatabase()
                fixture.audit(command: "db flush", exitStatus: 0)
                if format == .json {
                    StandardStreams.printOut(JSONOutput.encode(["ok": true, "host": target.host, "flushed": true]))
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
