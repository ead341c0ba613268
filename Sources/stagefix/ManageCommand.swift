// `stagefix manage HOST -- ARGS...`: any management command with the server's env.
import ArgumentParser
import Foundation
import StagefixCore

struct ManageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manage",
        abstract: "Run any manage.py command with the server's env; output relayed.",
        discussion: """
            Each argument is passed as one quoted word. `flush` asks for confirmation like
            `db flush` unless --yes is given.

            Examples:
              stagefix manage staging.example.com -- migrate --noinput
              stagefix manage staging.example.com -- shell -c 'print(1)'
              stagefix manage staging.example.com --yes -- flush --noinput
            """
    )

    @OptionGroup var target: HostOptions

    @Flag(help: "Confirm destructive commands (flush) without asking.")
    var yes = false

    @Argument(parsing: .postTerminator, help: "manage.py arguments (after --).")
    var arguments: [String] = []

    func validate() throws {
        guard !arguments.isEmpty else { throw ValidationError("give the manage.py arguments after --, for example: stagefix manage \(target.host) -- check") }
    }

    func run() throws {
        try Reporting.run(json: false) {
            if arguments.first == "flush", !yes {
                try Confirmation.requireTypedHostName(target.host, action: "flush the database of")
            }
            let fixture = try SiteConnection.open(target)
            defer { fixture.close() }
            let exit = try fixture.site.relayManagement(arguments)
            fixture.audit(command: "manage " + arguments.joined(separator: " "), exitStatus: exit.status)
            if let signal = exit.signal {
                StandardStreams.printError("stagefix: manage.py \(arguments.first ?? "") killed by signal \(signal)")
                return 1
            }
            if exit.status != 0 {
                StandardStreams.printError("stagefix: manage.py \(arguments.first ?? "") failed (exit status \(exit.status))")
                return 1
            }
            return 0
        }
    }
}
