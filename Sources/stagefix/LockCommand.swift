// `stagefix lock HOST -- COMMAND...`: holds the host's fixture lock while a local command (a whole
// test suite) runs, so no other run flushes the fixtures under it; exits with the command's status.
import ArgumentParser
import Foundation
import StagefixCore
#if canImport(Glibc)
import Glibc
#endif

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Hold the host's fixture lock while a local command runs; exits with its status.",
        discussion: """
            The lock lives on the server (~/.stagefix/locks/HOST.lock), names its owner, and is
            kept fresh while the command runs; a second run waits up to --lock-timeout, then fails
            with 75 naming the holder. stagefix commands started by COMMAND (a playbook in the
            suite's setUp) recognise the lock as their parent's and do not wait for it.

            Examples:
              stagefix lock staging.example.com -- python manage.py test functional_tests
              stagefix lock staging.example.com --lock-timeout 600 -- pytest tests/functional
            """
    )

    @OptionGroup var target: HostOptions

    @Argument(parsing: .postTerminator, help: "The local command to run while holding the lock (after --).")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else {
            throw ValidationError("give the command after --, for example: stagefix lock \(target.host) -- pytest")
        }
    }

    func run() throws {
        try Reporting.run(json: false) {
            let fixture = try SiteConnection.open(target)
            defer { fixture.close() }
            let request = target.connectionRequest
            let lock = try HostLock.acquire(
                session: fixture.site.session, host: fixture.siteHost, command: "stagefix lock -- " + command.joined(separator: " "),
                waitSeconds: target.lockTimeout, commandTimeout: target.timeout, trace: request.trace)
            defer { lock.release() }
            var environment = ProcessInfo.processInfo.environment
            environment[HostLock.tokensVariable] = lock.tokenEnvironment(environment)
            let status = try LocalChild.run(command, environment: environment) { lock.heartbeatIfDue() }
            fixture.audit(command: "lock -- " + command.joined(separator: " "), exitStatus: status)
            return status
        }
    }
}

/// A local command run with inherited stdio; `tick` runs every 200 ms while it lives.
enum LocalChild {
    static func run(_ arguments: [String], environment: [String: String], tick: () -> Void) throws -> Int32 {
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let rc = posix_spawnp(&pid, arguments[0], nil, nil, argv, envp)
        guard rc == 0 else {
            throw StagefixError.usage("cannot run `\(arguments[0])`: \(String(cString: strerror(rc)))")
        }
        // The terminal's Ctrl-C reaches the child too; we stay to release the lock after it ends.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        var status: Int32 = 0
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { break }
            tick()
            usleep(200_000)
        }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
