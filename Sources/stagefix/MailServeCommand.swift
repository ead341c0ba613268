// `stagefix mail serve`: a capturing SMTP server on this machine storing to a Maildir; with --via HOST
// it is reachable from HOST's loopback through an SSH remote forward (opened only on a guarded host).
import ArgumentParser
import Dispatch
import Foundation
import MailCapture
import SSH
import StagefixCore

extension MailCommand {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Capture the site's SMTP mail in a local Maildir (optionally through HOST's loopback).",
            discussion: """
                Accepts every message (EHLO, MAIL, RCPT, DATA, RSET, QUIT; AUTH with any
                credentials; no TLS) and stores it in the Maildir with X-Peer, X-MailFrom and
                X-RcptTo added. Runs until interrupted (or --duration). Prints one line when
                listening and one per stored message (JSON lines with --format json).

                --via HOST asks HOST's sshd to listen on its own 127.0.0.1 (only there) and
                forwards each connection here, so the staging site's real SMTP sending is
                exercised with EMAIL_HOST=127.0.0.1 and EMAIL_PORT=PORT in its env, while the
                messages land on this machine, where `mail wait --source maildir:DIR` reads them
                without SSH. HOST is guarded like every fixture. A site in a container reaches
                the host's loopback only with host networking.

                Examples:
                  stagefix mail serve --listen 127.0.0.1:2525 --maildir captured
                  stagefix mail serve --via staging.example.com --listen 127.0.0.1:2525 --maildir captured
                  stagefix mail wait --source maildir:captured --to edith@example.com --link
                """)

        @Option(help: ArgumentHelp("Where to listen: PORT, ADDR:PORT or [IPv6]:PORT (port 0: any free one).", valueName: "addr:port"))
        var listen = "127.0.0.1:2525"

        @Option(help: ArgumentHelp("The Maildir to store messages in (created when missing).", valueName: "dir"))
        var maildir = "stagefix-mail"

        @Option(name: .customLong("max-size"), help: ArgumentHelp("The largest message accepted, in bytes (larger ones get 552).", valueName: "bytes"))
        var maxSize = 25 * 1024 * 1024

        @Option(name: .customLong("max-connections"), help: ArgumentHelp("Connections served at once (one more gets 421).", valueName: "count"))
        var maxConnections = CaptureServerConfiguration.defaultMaxConnections

        @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Close a connection that sends nothing for this long (421).", valueName: "seconds"))
        var idleTimeout = CaptureServerConfiguration.defaultIdleTimeoutSeconds

        @Option(help: ArgumentHelp("Bytes stored in the Maildir over this run (a message past it gets 452).", valueName: "bytes"))
        var quota = CaptureServerConfiguration.defaultMaildirQuotaBytes

        @Option(help: ArgumentHelp("Also listen on HOST's 127.0.0.1, through an SSH remote forward.", valueName: "host"))
        var via: String?

        @Option(name: .customLong("remote-port"), help: ArgumentHelp("The port on HOST's 127.0.0.1 (default: the local port; 0: any free one).", valueName: "port"))
        var remotePort: Int?

        @Option(name: [.customShort("F"), .customLong("ssh-config")], help: ArgumentHelp("OpenSSH client config to read, for --via.", valueName: "file"))
        var sshConfig: String?

        @Option(name: [.customShort("c"), .customLong("config")], help: ArgumentHelp("stagefix's own config, for --via.", valueName: "file"))
        var config: String?

        @Option(help: ArgumentHelp("Bound on connecting to HOST, in seconds.", valueName: "seconds"))
        var timeout: Double = 30

        @Option(help: ArgumentHelp("Stop after this many seconds (default: until interrupted).", valueName: "seconds"))
        var duration: Double?

        @Flag(name: [.short, .long], help: "Trace each step with its duration.")
        var verbose = false

        @Option(help: "text or json.")
        var format: OutputFormatOption = .text

        func validate() throws {
            guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)") }
            if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration must be a positive number of seconds") }
            guard maxSize > 0 else { throw ValidationError("--max-size must be at least 1 byte") }
            guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1") }
            guard idleTimeout > 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be a positive number of seconds") }
            guard quota > 0 else { throw ValidationError("--quota must be at least 1 byte") }
            if let remotePort, !(0...65535).contains(remotePort) { throw ValidationError("--remote-port must be 0 to 65535") }
            if via == nil && (remotePort != nil || sshConfig != nil) { throw ValidationError("--remote-port and --ssh-config need --via HOST") }
            if via?.isEmpty == true { throw ValidationError("--via needs a host") }
        }

        func run() throws {
            let json = format == .json
            try Reporting.run(json: json) {
                let address: (host: String, port: Int)
                do {
                    address = try CaptureServerConfiguration.parseListenAddress(listen)
                } catch {
                    throw StagefixError.usage("\(error)")
                }
                let folder = maildir.hasPrefix("/") ? maildir : FileManager.default.currentDirectoryPath + "/" + maildir
                // Blocked before any thread starts, so every thread inherits it: the signal is then
                // taken here, between loop passes, never in the middle of a forward or a delivery.
                TerminationSignals.block()

                // The guard first: nothing listens or forwards for a host that is not staging.
                let fixture = try via.map { host in
                    // A remote forward opens a port on the machine: judged for the whole machine, like exec.
                    try SiteConnection.open(.fromCommandLine(host: host, sshConfig: sshConfig, timeout: timeout, verbose: verbose), configPath: config, scope: .machine)
                }
                defer { fixture?.close() }

                let stored = StoredCount()
                let server: SMTPCaptureServer
                do {
                    let configuration = CaptureServerConfiguration(
                        host: address.host, port: address.port, maildir: folder, maxMessageBytes: maxSize,
                        maxConnections: maxConnections, idleTimeoutSeconds: idleTimeout, maildirQuotaBytes: quota)
                    server = try waitFor { try await SMTPCaptureServer.start(configuration) { message in
                        stored.add()
                        Self.report(message, json: json)
                    } }
                } catch let error as MailCaptureError {
                    throw StagefixError.configuration(error.description)
                }
                defer { try? waitFor { try await server.stop() } }
                let local = server.localAddress

                var forward: RemoteForward?
                if let fixture {
                    forward = try RemoteForward(session: fixture.site.session, remotePort: remotePort ?? local.port, timeout: timeout)
                    if fixture.site.layout.commandPrefix != nil {
                        StandardStreams.printError("stagefix: warning: the site runs through site.command_prefix (a container?): the forward listens on \(fixture.siteHost)'s own 127.0.0.1, which a container reaches only with host networking")
                    }
                }
                let listening = Self.endpoint(local.host, local.port)
                if json {
                    var event: [String: Any] = ["ok": true, "event": "listening", "listen": listening, "maildir": folder]
                    if let forward, let via { event["via"] = via; event["remote"] = "\(forward.remoteHost):\(forward.boundPort)" }
                    StandardStreams.printOut(JSONOutput.encode(event))
                } else {
                    StandardStreams.printOut("listening on \(listening), storing in \(folder)")
                    if let forward, let via {
                        StandardStreams.printOut("forwarding \(via)'s \(forward.remoteHost):\(forward.boundPort) here: the site needs EMAIL_HOST=\(forward.remoteHost) and EMAIL_PORT=\(forward.boundPort) in its env")
                    }
                }

                let stopAt = duration.map { Date().addingTimeInterval($0) }
                let shouldStop = { TerminationSignals.takePending() || stopAt.map { Date() >= $0 } ?? false }
                if let forward {
                    try forward.serve(localHost: local.host, localPort: local.port, shouldStop: shouldStop)
                } else {
                    while !shouldStop() { usleep(100_000) }
                }
                if json {
                    StandardStreams.printOut(JSONOutput.encode(["ok": true, "event": "stopped", "stored": stored.value]))
                } else {
                    StandardStreams.printOut("stopped: \(stored.value) message(s) stored in \(folder)")
                }
                return 0
            }
        }

        static func report(_ message: StoredMessage, json: Bool) {
            if json {
                StandardStreams.printOut(JSONOutput.encode([
                    "ok": true, "event": "message", "path": message.path, "from": message.mailFrom,
                    "to": message.recipients, "peer": message.peer, "size": message.size,
                ]))
            } else {
                StandardStreams.printOut("stored \(message.path): from <\(TerminalText.escaped(message.mailFrom))> to \(TerminalText.escaped(message.recipients.joined(separator: ", "))) (\(message.size) bytes)")
            }
        }

        static func endpoint(_ host: String, _ port: Int) -> String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// Messages stored so far (counted on the server's threads, read at the end).
private final class StoredCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// SIGINT, SIGTERM and SIGHUP as a flag the serving loop polls, instead of handlers that could
/// interrupt a delivery halfway.
enum TerminationSignals {
    private static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, signal) }
        return set
    }

    static func block() {
        var signals = set
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// True (once) when one of them arrived.
    static func takePending() -> Bool {
        var signals = set
        var immediately = timespec(tv_sec: 0, tv_nsec: 0)
        return sigtimedwait(&signals, nil, &immediately) > 0
    }
}

/// Runs async work from this synchronous command and waits for it.
private func waitFor<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = AsyncOutcome<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { outcome.result = .success(try await work()) } catch { outcome.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try outcome.result!.get()
}

/// Written once by the task, read after the semaphore: the semaphore orders the two.
private final class AsyncOutcome<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
