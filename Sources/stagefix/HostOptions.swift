// The options every host command takes (CONTRACT.md "Targeting a host").
import ArgumentParser
import Foundation
import StagefixCore

struct HostOptions: ParsableArguments {
    @Argument(help: "The host: an ssh_config alias, a name or address, or user@host:port.")
    var host: String

    @Option(name: [.customShort("F"), .customLong("ssh-config")], help: ArgumentHelp("OpenSSH client config to read (default ~/.ssh/config, then /etc/ssh/ssh_config).", valueName: "file"))
    var sshConfig: String?

    @Option(name: [.customShort("c"), .customLong("config")], help: ArgumentHelp("stagefix's own config (default: stagefix.yml here or in the nearest parent).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Bound on connecting and on each remote command, in seconds.", valueName: "seconds"))
    var timeout: Double = 30

    @Flag(name: [.short, .long], help: "Trace each step with its duration (secrets never shown).")
    var verbose = false

    @Option(help: ArgumentHelp("How long a command that changes the host waits for another run's fixture lock.", valueName: "seconds"))
    var lockTimeout: Double = 60

    func validate() throws {
        guard timeout > 0, timeout.isFinite else {
            throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)")
        }
        guard !host.isEmpty else { throw ValidationError("HOST must not be empty") }
        guard lockTimeout >= 0, lockTimeout.isFinite else { throw ValidationError("--lock-timeout must be 0 or more seconds, got \(lockTimeout)") }
    }

    var connectionRequest: ConnectionRequest {
        .fromCommandLine(host: host, sshConfig: sshConfig, timeout: timeout, verbose: verbose)
    }
}

extension ConnectionRequest {
    /// A connection as a command's -F, --timeout and -v ask for it (a terminal prompt for passphrases).
    static func fromCommandLine(host: String, sshConfig: String?, timeout: Double, verbose: Bool) -> ConnectionRequest {
        ConnectionRequest(
            destination: host, sshConfigPath: sshConfig, timeout: timeout,
            trace: verbose ? Trace.toStandardError : nil,
            passphrase: TerminalPrompt.passphraseProvider)
    }
}

enum OutputFormatOption: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension SiteConnection {
    /// Opens the target's site with the guard enforced, from the command's host options.
    static func open(_ target: HostOptions, scope: GuardScope = .site) throws -> SiteConnection {
        let fixture = try SiteConnection.open(target.connectionRequest, configPath: target.config, scope: scope)
        fixture.bindLock(waitSeconds: target.lockTimeout)
        return fixture
    }
}
