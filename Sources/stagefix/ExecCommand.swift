// `stagefix exec HOST -- COMMAND...`: a raw shell command, output relayed, remote status passed through.
import ArgumentParser
import Foundation
import SSH
import StagefixCore
#if canImport(Glibc)
import Glibc
#endif

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a shell command on the host; exits with its exit status.",
        discussion: """
            A shell reaches every site of the login user, so exec needs the site's own identity
            (an identity key naming the host) and is refused (77) on a machine that also serves a
            production site. The words after -- are joined with spaces into one shell command, as ssh does, so
            quote for the remote shell: stagefix exec staging -- 'echo "$HOME"'.
            Local stdin is relayed to the command (use -n to send none).

            Examples:
              stagefix exec staging.example.com -- uptime
              stagefix exec -F ./ssh_config --timeout 5 staging -- 'ls -l ~/sites'
              tar c dir | stagefix exec staging -- 'tar x -C /tmp'
            """
    )

    @OptionGroup var target: HostOptions

    @Flag(name: .customShort("n"), help: "Send no stdin (like ssh -n).")
    var noStdin = false

    @Argument(parsing: .postTerminator, help: "The command to run (after --).")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else {
            throw ValidationError("give the command after --, for example: stagefix exec \(target.host) -- uptime")
        }
    }

    func run() throws {
        try Reporting.run(json: false) {
            // A shell reaches every site under the login user: judged for the whole machine.
            let fixture = try SiteConnection.open(target, scope: .machine)
            defer { fixture.close() }
            let session = fixture.site.session
            let stdin: (any StdinSource)? = noStdin || isatty(0) == 1 ? nil : StreamingStdin(descriptor: 0)
            let remote = RemoteCommand(
                command.joined(separator: " "), stdin: stdin,
                stdout: { StandardStreams.writeAll($0.baseAddress!, $0.count, to: 1) },
                stderr: { StandardStreams.writeAll($0.baseAddress!, $0.count, to: 2) })
            target.connectionRequest.trace?("running the command")
            let exit = try session.run(remote, timeout: target.timeout)
            target.connectionRequest.trace?("command ended: \(exit)")
            fixture.audit(command: "exec " + command.joined(separator: " "), exitStatus: exit.status)
            if let signal = exit.signal {
                StandardStreams.printError("stagefix: remote command killed by signal \(signal)")
                return 128 + (SignalNames.number(of: signal) ?? 0)
            }
            return exit.status
        }
    }
}

enum SignalNames {
    /// POSIX signal numbers for the names sshd reports (no SIG prefix).
    static func number(of name: String) -> Int32? {
        let table: [String: Int32] = [
            "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "USR1": 10,
            "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
        ]
        return table[name]
    }
}
