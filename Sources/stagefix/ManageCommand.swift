// `stagefix manage HOST -- ARGS...`: any management command with the server's env.
import ArgumentParser
import Foundation
import StagefixCore

struct ManageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manage",
        abstract: "Run any manage.py command with the server's env; output relayed.",
        discussion: """
            Runs in stagefix's Django runner through call_command, after the same database checks
            as `db flush` (any command can write): a production-marked database is refused (77).
            Arguments are passed as data, never through a shell. The command gets no stdin, so give
            interactive commands their --noinput. `flush` asks for confirmation like `db flush`
            unless --yes is given. Waits for another run's fixture lock (--lock-timeout).

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
            fixture.bindLock(waitSeconds: target.lockTimeout)
            let status = try fixture.site.relayManagement(
                arguments, stdout: { StandardStreams.write($0, to: 1) }, stderr: { StandardStreams.write($0, to: 2) })
            fixture.audit(command: "manage " + arguments.joined(separator: " "), exitStatus: status)
            if status != 0 {
                StandardStreams.printError("stagefix: manage.py \(arguments.first ?? "") failed (exit status \(status))")
                return 1
            }
            return 0
        }
    }
}
