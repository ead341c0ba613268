// `stagefix env show|get|set HOST`: the site's env file, read and edited over SFTP.
import ArgumentParser
import Foundation
import StagefixCore

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Read and edit the site's env file on the server.",
        subcommands: [Show.self, Get.self, Set.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The parsed env file; secret-looking values masked unless --reveal.",
            discussion: """
                Examples:
                  stagefix env show staging.example.com
                  stagefix env show staging.example.com --format json --reveal
                """
        )

        @OptionGroup var target: HostOptions

        @Flag(help: "Show secret-looking values too.")
        var reveal = false

        @Option(help: "text, json or dotenv.")
        var format: EnvShowFormat = .text

        func run() throws {
            try Reporting.run(json: format == .json) {
                let fixture = try SiteConnection.open(target)
                defer { fixture.close() }
                let environment = try fixture.site.environment().checkedForUse()
                StandardStreams.write(try EnvListing.render(environment, format: format, reveal: reveal), to: 1)
                return 0
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one value (asked for by name, so not masked).",
            discussion: """
                Exits 1 when the key is not set. A value holding control characters (a line
                break, ESC) prints quoted with them escaped; --raw prints it byte for byte.

                Example:
                  stagefix env get staging.example.com SITENAME
                """
        )

        @OptionGroup var target: HostOptions

        @Argument(help: "The key.")
        var key: String

        @Flag(help: "Print the value byte for byte, control characters and line breaks included (for scripts).")
        var raw = false

        func run() throws {
            try Reporting.run(json: false) {
                let fixture = try SiteConnection.open(target)
                defer { fixture.close() }
                let environment = try fixture.site.environment().checkedForUse()
                guard let value = environment.value(for: key) else {
                    throw StagefixError.remoteCommandFailed(command: "env get \(key)", exit: .init(status: 1), stderrTail: "\(key) is not set in \(environment.path)")
                }
                // Control characters escaped (a multi-line value quoted on one line) unless --raw.
                StandardStreams.printOut(raw ? value : TerminalText.escaped(value))
                return 0
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or replace keys, atomically, keeping the rest of the file.",
            discussion: """
                Comments, order and untouched lines stay byte-for-byte; the file keeps its mode.
                Running the same command twice leaves the file unchanged.

                Examples:
                  stagefix env set staging.example.com SITENAME=staging.example.com DJANGO_DEBUG_FALSE=y
                  stagefix env set staging.example.com --from-local EMAIL_PASSWORD
                  stagefix env set staging.example.com --generate DJANGO_SECRET_KEY
                """
        )

        @OptionGroup var target: HostOptions

        @Argument(help: "KEY=VALUE pairs.")
        var assignments: [String] = []

        @Option(name: .customLong("from-local"), help: ArgumentHelp("Copy this machine's environment variable KEY.", valueName: "key"))
        var fromLocal: [String] = []

        @Option(help: ArgumentHelp("Set KEY to a 50-character random secret, only if it is missing.", valueName: "key"))
        var generate: [String] = []

        @Option(help: "text or json.")
        var format: OutputFormatOption = .text

        func validate() throws {
            guard !assignments.isEmpty || !fromLocal.isEmpty || !generate.isEmpty else {
                throw ValidationError("give KEY=VALUE, --from-local KEY or --generate KEY")
            }
        }

        func run() throws {
            try Reporting.run(json: format == .json) {
                let edits = try EnvEdits.parse(assignments: assignments, fromLocal: fromLocal, generate: generate, localEnvironment: ProcessInfo.processInfo.environment)
                let fixture = try SiteConnection.open(target)
                defer { fixture.close() }
                let outcome = try fixture.site.applyEnvEdits(edits)
                fixture.audit(command: "env set " + edits.edits.map(\.description).joined(separator: " "), exitStatus: 0)
                if format == .json {
                    StandardStreams.printOut(JSONOutput.encode(["ok": true, "host": target.host, "changed": outcome.changedKeys, "unchanged": outcome.unchangedKeys, "file": outcome.path]))
                } else {
                    let summary = outcome.changedKeys.isEmpty ? "no change" : "set " + outcome.changedKeys.joined(separator: ", ")
                    StandardStreams.printOut("\(outcome.path): \(summary)")
                }
                return 0
            }
        }
    }
}

extension EnvShowFormat: ExpressibleByArgument {}
