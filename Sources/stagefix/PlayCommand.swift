// `stagefix play PLAYBOOK`: a YAML fixture recipe on one or more hosts (see README "Playbooks").
import ArgumentParser
import Foundation
import SSH
import StagefixCore
#if canImport(Glibc)
import Glibc
#endif

struct PlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "play",
        abstract: "Run a playbook: flush, sessions, env edits, checks, on one connection per host.",
        discussion: """
            The playbook is checked whole before anything connects (65 with file:line:column).
            One connection per host serves all its steps; hosts run in parallel (--forks); a failed
            step stops its host and the others finish; the worst host decides the exit code.
            While a playbook that changes anything runs, it holds the host's fixture lock.

            Examples:
              stagefix play playbooks/fresh-login.yml --host staging.example.com --var users=a@x.org,b@x.org
              stagefix play playbooks/provision-env.yml --host staging.example.com --dry-run
              stagefix play playbooks/smoke.yml --host staging.example.com --format json
            """
    )

    @Argument(help: "The playbook (YAML).")
    var playbook: String

    @Option(name: .customLong("host"), help: ArgumentHelp("A target host (repeat for several); default: the playbook's hosts.", valueName: "host"))
    var hosts: [String] = []

    @Option(name: .customLong("var"), help: ArgumentHelp("A playbook var (repeat); list vars take comma-separated items.", valueName: "name=value"))
    var variables: [String] = []

    @Flag(help: "Print the exact plan (secrets masked) and contact no host.")
    var dryRun = false

    @Option(help: "How many hosts run at once.")
    var forks = 5

    @Option(help: ArgumentHelp("How long to wait for another run's fixture lock on a host, in seconds.", valueName: "seconds"))
    var lockTimeout: Double = 60

    @Option(name: [.customShort("F"), .customLong("ssh-config")], help: ArgumentHelp("OpenSSH client config to read.", valueName: "file"))
    var sshConfig: String?

    @Option(name: [.customShort("c"), .customLong("config")], help: ArgumentHelp("stagefix's own config (default: stagefix.yml here or in the nearest parent).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Bound on connecting and on each remote command, in seconds.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(help: "text or json.")
    var format: OutputFormatOption = .text

    @Flag(name: [.short, .long], help: "Trace each step with its duration (secrets never shown).")
    var verbose = false

    func validate() throws {
        guard forks >= 1 else { throw ValidationError("--forks must be at least 1") }
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        guard lockTimeout >= 0, lockTimeout.isFinite else { throw ValidationError("--lock-timeout must be 0 or more seconds") }
        for variable in variables where !variable.contains("=") {
            throw ValidationError("--var \(variable): write NAME=VALUE")
        }
    }

    /// Each host's connection request: these options, traces prefixed with the host.
    private func connectionRequests() -> @Sendable (String) -> ConnectionRequest {
        let (sshConfig, timeout, verbose) = (self.sshConfig, self.timeout, self.verbose)
        let passphrase: PassphraseProvider = TerminalPrompt.passphraseProvider
        return { (host: String) -> ConnectionRequest in
            var trace: (@Sendable (String) -> Void)? = nil
            if verbose {
                trace = { (message: String) in Trace.toStandardError(host + ": " + message) }
            }
            return ConnectionRequest(destination: host, sshConfigPath: sshConfig, timeout: timeout, trace: trace, passphrase: passphrase)
        }
    }

    func run() throws {
        try Reporting.run(json: format == .json) {
            let book = try PlaybookParser.load(path: playbook)
            let overrides = variables.map { text -> (name: String, value: String) in
                let equals = text.firstIndex(of: "=")!
                return (String(text[..<equals]), String(text[text.index(after: equals)...]))
            }
            let values = try VariableValues.resolve(book, overrides: overrides)
            let targets = try PlaybookPlanner.hosts(book, requested: hosts, values: values)
            let environment = ProcessInfo.processInfo.environment
            let plans = try targets.map { try PlaybookPlanner.plan(book, host: $0, values: values, localEnvironment: environment) }
            let stagefixConfig = try StagefixConfig.load(explicitPath: config, searchFrom: FileManager.default.currentDirectoryPath)

            if dryRun {
                let results = PlaybookRunner.dryRun(plans)
                StandardStreams.write(format == .json ? PlaybookReport.json(book, results: results, dryRun: true) : PlaybookReport.planText(book, results: results), to: 1)
                return 0
            }
            let options = PlaybookRunOptions(
                config: stagefixConfig, request: connectionRequests(), forks: forks, lockWaitSeconds: lockTimeout,
                progress: format == .json ? nil : PlayProgress(hosts: targets, live: isatty(2) == 1))
            let results = PlaybookRunner.run(book, plans: plans, options: options)
            if format == .json {
                StandardStreams.write(PlaybookReport.json(book, results: results, dryRun: false), to: 1)
            } else {
                StandardStreams.write(PlaybookReport.summaryText(results), to: 1)
            }
            return PlaybookReport.exitStatus(results).rawValue
        }
    }
}

/// Which step each host is on: one redrawn line per host on a terminal, plain lines otherwise.
final class PlayProgress: PlaybookProgress, @unchecked Sendable {
    private let lock = NSLock()
    private let hosts: [String]
    private let live: Bool
    private var status: [String: String] = [:]
    private var drawn = 0

    init(hosts: [String], live: Bool) {
        self.hosts = hosts
        self.live = live
    }

    func stepStarted(host: String, step: PlannedStep, of total: Int) {
        update(host, "[\(step.step.index)/\(total)] \(step.step.displayName)...", plain: nil)
    }

    func stepFinished(host: String, result: StepResult, of total: Int) {
        let line = "[\(result.step.index)/\(total)] \(result.step.displayName) \(result.status == .ok ? "ok" : "FAILED") (\(Int(result.milliseconds)) ms)"
        update(host, line, plain: "\(host): \(line)")
    }

    func hostFinished(_ result: HostResult) {
        let line = result.error == nil ? "done" : "stopped: \(ExitStatus(for: result.error!).kind)"
        update(result.host, line, plain: result.error != nil && result.steps.allSatisfy({ $0.status == .skipped }) ? "\(result.host): \(line)" : nil)
    }

    private func update(_ host: String, _ line: String, plain: String?) {
        lock.withLock {
            // A step's line can quote the server (its error): no control character of its own.
            status[host] = TerminalText.escapedKeepingLines(line)
            if live {
                var text = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
                for name in hosts { text += "\u{1B}[2K\(name): \(status[name] ?? "waiting")\n" }
                drawn = hosts.count
                StandardStreams.write(text, to: 2)
            } else if let plain {
                StandardStreams.printError(TerminalText.escapedKeepingLines(plain))
            }
        }
    }
}
