// `stagefix agent`: warm mode's local agent (started on first use by --warm, or by hand).
import ArgumentParser
import Foundation
import StagefixCore

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Warm mode: keep SSH connections and Django runners alive for later fixture calls.",
        discussion: """
            Listens on a Unix socket only you can use. `session create --warm` and `db flush --warm`
            (or STAGEFIX_WARM=1) hand their work to it, starting it when it is not running; it keeps
            each host's guarded connection and its Django process, restarts them when the site
            changes (a deploy: the env file, manage.py or git's HEAD/index) or when they die, and
            exits after --idle seconds without requests. The same guard, outputs and exit codes apply.

            Examples:
              stagefix agent --idle 900 &
              STAGEFIX_WARM=1 pytest tests/functional
            """
    )

    @Option(help: ArgumentHelp("The socket (default $STAGEFIX_AGENT_SOCKET, else $XDG_RUNTIME_DIR/stagefix/agent-v3.sock, else /tmp/stagefix-UID/agent-v3.sock).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Exit after this many seconds without a request.", valueName: "seconds"))
    var idle: Double = 600

    @Flag(name: [.short, .long], help: "Trace what the agent does on stderr.")
    var verbose = false

    func run() throws {
        try Reporting.run(json: false) {
            let agent = WarmAgent(socketPath: socket ?? AgentSocket.defaultPath(), idleSeconds: idle, trace: verbose ? Trace.toStandardError : nil)
            try agent.serve()
            return 0
        }
    }
}

/// `--warm` on fixture commands: through the agent when it answers, else the normal path.
struct WarmOption: ParsableArguments {
    @Flag(help: "Use the warm agent (started on first use; also STAGEFIX_WARM=1); falls back to a direct connection.")
    var warm = false

    var isOn: Bool { warm || ProcessInfo.processInfo.environment["STAGEFIX_WARM"] == "1" }
}

extension HostOptions {
    /// Runs a fixture request through the agent (when warm and reachable) or directly; prints and exits like any command.
    func perform(_ action: FixtureRequest.Action, warm: WarmOption) throws {
        let trace = connectionRequest.trace
        let final: FixtureReply
        do {
            // stagefix.yml by content, found from our folder: the agent may run in another one.
            let request = FixtureRequest(
                host: host, sshConfig: sshConfig.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                config: try StagefixConfigFile.find(explicitPath: config, searchFrom: FileManager.default.currentDirectoryPath),
                timeout: timeout, action: action,
                lockTimeout: lockTimeout, lockTokens: ProcessInfo.processInfo.environment[HostLock.tokensVariable])
            var reply: FixtureReply?
            if warm.isOn {
                try FixtureWork.validate(request)
                reply = AgentClient.send(request, socketPath: AgentSocket.defaultPath(), idleSeconds: 600, trace: trace)
            }
            final = reply ?? FixtureWork.run(request, trace: trace, passphrase: TerminalPrompt.passphraseProvider)
        } catch {
            final = .failure(error, json: action.wantsJSON)
        }
        StandardStreams.write(final.stdout, to: 1)
        // The error can quote the server (its identity in a refusal): control characters escaped.
        StandardStreams.write(TerminalText.escapedKeepingLines(final.stderr), to: 2)
        if final.exit != 0 { throw ExitCode(final.exit) }
    }
}
