// Runs commands on exec channels: stdin in, stdout and stderr streamed out as they arrive, exit status.
import CLibSSH2
import Foundation

/// How a remote command ended.
public struct RemoteExit: Sendable, Equatable, CustomStringConvertible {
    public var status: Int32
    /// Signal name without `SIG` (`TERM`, `KILL`) when the command was killed by one.
    public var signal: String?

    public init(status: Int32, signal: String? = nil) {
        self.status = status
        self.signal = signal
    }

    public var succeeded: Bool { status == 0 && signal == nil }

    public var description: String {
        if let signal { return "killed by signal \(signal)" }
        return "exit status \(status)"
    }
}

/// Receives output as it arrives; the bytes are only valid during the call.
public typealias OutputSink = (UnsafeRawBufferPointer) -> Void

/// One command to run: its text (already quoted by the caller), optional stdin, output sinks.
public struct RemoteCommand {
    public var command: String
    public var stdin: (any StdinSource)?
    public var stdout: OutputSink
    public var stderr: OutputSink

    public init(_ command: String, stdin: (any StdinSource)? = nil, stdout: @escaping OutputSink = { _ in }, stderr: @escaping OutputSink = { _ in }) {
        self.command = command
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }

    public init(_ command: String, stdinBytes: [UInt8], stdout: @escaping OutputSink = { _ in }, stderr: @escaping OutputSink = { _ in }) {
        self.init(command, stdin: FixedStdin(stdinBytes), stdout: stdout, stderr: stderr)
    }
}

extension SSHSession {
    /// Runs one command and waits for it to end within `timeout` seconds.
    public func run(_ command: RemoteCommand, timeout: Double) throws -> RemoteExit {
        try runConcurrently([command], timeout: timeout)[0]
    }

    /// Longer than this, an exec request does not fit libssh2's channel-request packet (about 32 KB:
    /// error -34), while OpenSSH sends up to 256 KB: such a command travels as a file instead.
    static let longestExecRequest = 30_000

    /// A long command, written over SFTP to a private file that a short exec request reads, deletes
    /// and `eval`s in the login shell, as sshd would run it (`$SHELL -c COMMAND`).
    func deliverLongCommand(_ command: RemoteCommand, timeout: Double) throws -> RemoteCommand {
        guard command.command.utf8.count > Self.longestExecRequest else { return command }
        let sftp = try SFTPClient(session: self, timeout: timeout)
        if try sftp.attributes(of: ".stagefix") == nil { try? sftp.makeDirectory(".stagefix", mode: 0o700) }
        let file = ".stagefix/command-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        guard try sftp.createExclusively(file, contents: Array(command.command.utf8), mode: 0o600) else {
            throw SSHError.remoteFile(path: file, reason: "already exists")
        }
        var delivered = command
        // `echo .` keeps the command's trailing newlines through $( ), then is cut off again.
        delivered.command = "f=\(ShellQuoting.quote(file)); c=$(cat \"$f\"; echo .); rm -f \"$f\"; eval \"${c%.}\""
        return delivered
    }

    /// Runs one command, collecting its output in memory (for small outputs).
    public func capture(_ command: String, stdin: [UInt8]? = nil, timeout: Double) throws -> (exit: RemoteExit, stdout: [UInt8], stderr: [UInt8]) {
        var out: [UInt8] = []
        var err: [UInt8] = []
        let exit = try run(RemoteCommand(command, stdin: stdin.map { FixedStdin($0) }, stdout: { out.append(contentsOf: $0) }, stderr: { err.append(contentsOf: $0) }), timeout: timeout)
        return (exit, out, err)
    }

    /// Runs several commands at once on separate channels of this connection; their opens and
    /// exec requests travel together, so N commands cost about one round trip, not N.
    public func runConcurrently(_ commands: [RemoteCommand], timeout: Double) throws -> [RemoteExit] {
        let deadline = Deadline(secondsFromNow: timeout)
        let processes = try commands.map { RemoteProcess(session: self, command: try deliverLongCommand($0, timeout: timeout)) }
        defer { processes.forEach { $0.abandonIfRunning() } }
        let waiter = makeWaiter()
        while processes.contains(where: { !$0.isFinished }) {
            var progressed = false
            // Every channel until EAGAIN before polling: data for one may already sit in libssh2's buffers.
            for process in processes where !process.isFinished {
                if try process.advance() { progressed = true }
            }
            // Reading one stream can pull another's packets into libssh2's queue; the server then
            // waits for our window adjust and the socket stays silent: never poll over queued data.
            if !progressed && processes.contains(where: { $0.hasQueuedData }) { continue }
            if !progressed {
                let running = processes.first(where: { !$0.isFinished })!
                // A local stdin stream has no socket to wake us: look again soon.
                let waitingForLocalInput = processes.contains { $0.isWaitingForLocalInput }
                let bound = waitingForLocalInput ? deadline.earliest(Deadline(secondsFromNow: 0.02)) : deadline
                do {
                    try waiter.wait(deadline: bound, during: running.phaseDescription)
                } catch SSHError.timedOut where !deadline.hasPassed {
                    continue
                } catch SSHError.timedOut {
                    terminateRemotely(processes.filter { !$0.isFinished })
                    throw SSHError.timedOut(during: running.phaseDescription, seconds: timeout)
                }
            }
        }
        return processes.map { $0.exit! }
    }
}

extension SSHSession {
    /// Signals the process groups of commands that outlived their timeout (libssh2 1.10 cannot send
    /// an SSH "signal" request), on a fresh channel of this connection, within a second or two.
    func terminateRemotely(_ processes: [RemoteProcess]) {
        let groups = processes.compactMap(\.remoteProcessGroup).filter { $0 > 1 }
        processes.forEach { $0.abandonIfRunning() }
        guard !groups.isEmpty else { return }
        let targets = groups.map { "-\($0)" }.joined(separator: " ")
        let killer = RemoteProcess(session: self, command: RemoteCommand("kill -TERM -- \(targets) 2>/dev/null"))
        let deadline = Deadline(secondsFromNow: 2)
        let waiter = makeWaiter()
        while !killer.isFinished && !deadline.hasPassed {
            guard let moved = try? killer.advance() else { return }
            if !moved, (try? waiter.wait(deadline: deadline, during: "stopping the timed-out command")) == nil { return }
        }
        options.trace?("sent TERM to remote process group(s) \(groups.map(String.init).joined(separator: ", "))")
    }
}

/// One exec channel's life: open, exec, feed stdin, drain both streams, close, read the exit status.
final class RemoteProcess {
    private enum Phase { case opening, starting, running, closing, waitingClosed, finished }

    /// Strong: libssh2 frees a channel through its session, so the session must outlive every channel.
    private let session: SSHSession
    private let command: RemoteCommand
    private var channel: OpaquePointer?
    private var phase = Phase.opening
    private var stdinPending: [UInt8] = []
    private var stdinOffset = 0
    private var stdinClosed = false
    private(set) var isWaitingForLocalInput = false
    private var buffer = [UInt8](repeating: 0, count: 32768)
    private(set) var exit: RemoteExit?

    /// The remote shell's pid, reported first on stderr; sshd makes that shell a session leader, so
    /// it is also the process group to signal when the command outlives its timeout.
    private(set) var remoteProcessGroup: Int32?
    private var lookingForPid = true
    private var stderrLineBuffer: [UInt8] = []
    static let pidMarker = Array("\u{1}stagefix-pid:".utf8)

    init(session: SSHSession, command: RemoteCommand) {
        self.session = session
        self.command = command
        stdinClosed = command.stdin == nil
    }

    /// What is sent to sshd: the pid report, then the command itself, unchanged, in the login shell.
    var wireCommand: String {
        "printf '\\001stagefix-pid:%s\\n' \"$$\" >&2; " + command.command
    }

    deinit {
        if let channel { libssh2_channel_free(channel) }
    }

    var isFinished: Bool { phase == .finished }

    /// Data (either stream) that libssh2 has already read from the socket but we have not.
    var hasQueuedData: Bool {
        guard phase == .running, let channel else { return false }
        var queued: UInt = 0
        _ = libssh2_channel_window_read_ex(channel, &queued, nil)
        return queued > 0
    }

    var phaseDescription: String {
        switch phase {
        case .opening: return "opening a channel"
        case .starting: return "starting `\(Self.abbreviate(command.command))`"
        default: return "running `\(Self.abbreviate(command.command))`"
        }
    }

    static func abbreviate(_ command: String) -> String {
        let oneLine = command.replacingOccurrences(of: "\n", with: " ")
        return oneLine.count > 60 ? String(oneLine.prefix(57)) + "..." : oneLine
    }

    /// After a timeout or error: close the channel so sshd stops relaying (best effort, no waiting).
    func abandonIfRunning() {
        guard phase != .finished, let channel else { return }
        _ = libssh2_channel_close(channel)
    }

    private func failure(_ rc: Int32, _ function: String) -> SSHError {
        LibSSH2.error(rc, function: function, during: phaseDescription, session: session.handle)
    }

    /// Moves as far as possible without blocking; true when anything happened.
    func advance() throws -> Bool {
        var progressed = false
        while true {
            switch phase {
            case .opening:
                guard let opened = libssh2_channel_open_ex(session.handle, "session", 7, 2 * 1024 * 1024, 32768, nil, 0) else {
                    let rc = libssh2_session_last_errno(session.handle)
                    if rc == LIBSSH2_ERROR_EAGAIN { return progressed }
                    throw failure(rc, "libssh2_channel_open_ex")
                }
                channel = opened
                phase = .starting
                progressed = true
            case .starting:
                let text = wireCommand
                let rc = libssh2_channel_process_startup(channel, "exec", 4, text, UInt32(text.utf8.count))
                if rc == LIBSSH2_ERROR_EAGAIN { return progressed }
                if rc != 0 {
                    if rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED {
                        throw SSHError.library(function: "exec", code: rc, message: "the server refused to run the command")
                    }
                    throw failure(rc, "libssh2_channel_process_startup")
                }
                phase = .running
                progressed = true
            case .running:
                let moved = try pumpRunning()
                progressed = progressed || moved
                if phase == .running { return progressed }
            case .closing:
                let rc = libssh2_channel_close(channel)
                if rc == LIBSSH2_ERROR_EAGAIN { return progressed }
                if rc != 0 { throw failure(rc, "libssh2_channel_close") }
                phase = .waitingClosed
                progressed = true
            case .waitingClosed:
                let rc = libssh2_channel_wait_closed(channel)
                if rc == LIBSSH2_ERROR_EAGAIN { return progressed }
                if rc != 0 { throw failure(rc, "libssh2_channel_wait_closed") }
                // Only after close is the exit status reliable (LIBSSH2-NOTES §4).
                exit = readExit()
                flushHeldStderr()
                phase = .finished
                libssh2_channel_free(channel)
                channel = nil
                return true
            case .finished:
                return progressed
            }
        }
    }

    private func pumpRunning() throws -> Bool {
        var progressed = false
        if !stdinClosed, let stdin = command.stdin {
            if libssh2_channel_eof(channel) != 0 {
                stdinClosed = true  // the command is done; what it did not read stays unsent
                isWaitingForLocalInput = false
            } else {
                try feed(stdin, progressed: &progressed)
            }
        }
        // Drain both streams every pass: an unread stderr fills its window and stalls stdout too.
        let outDrained = try drain(stream: 0, into: command.stdout, progressed: &progressed)
        let errDrained = try drain(stream: Int32(SSH_EXTENDED_DATA_STDERR), into: { [unowned self] chunk in self.receiveStderr(chunk) }, progressed: &progressed)
        if outDrained && errDrained && libssh2_channel_eof(channel) != 0 {
            phase = .closing
            progressed = true
        }
        return progressed
    }

    /// Takes the pid report out of stderr; everything else goes to the caller's sink untouched.
    private func receiveStderr(_ chunk: UnsafeRawBufferPointer) {
        guard lookingForPid else { return command.stderr(chunk) }
        stderrLineBuffer.append(contentsOf: chunk)
        // Lines before the report (a login shell's warning) pass through; give up after 4 KiB.
        while lookingForPid, let newline = stderrLineBuffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = stderrLineBuffer[..<newline]
            if line.starts(with: Self.pidMarker) {
                remoteProcessGroup = Int32(String(decoding: line.dropFirst(Self.pidMarker.count), as: UTF8.self))
                lookingForPid = false
                stderrLineBuffer.removeSubrange(...newline)
            } else {
                let passed = Array(stderrLineBuffer[...newline])
                stderrLineBuffer.removeSubrange(...newline)
                passed.withUnsafeBytes { command.stderr($0) }
            }
        }
        if lookingForPid && stderrLineBuffer.count > 4096 { lookingForPid = false }
        if !lookingForPid && !stderrLineBuffer.isEmpty {
            let rest = stderrLineBuffer
            stderrLineBuffer = []
            rest.withUnsafeBytes { command.stderr($0) }
        }
    }

    /// Flushes a partial line held while looking for the pid report (the command ended first).
    func flushHeldStderr() {
        lookingForPid = false
        guard !stderrLineBuffer.isEmpty else { return }
        let rest = stderrLineBuffer
        stderrLineBuffer = []
        rest.withUnsafeBytes { command.stderr($0) }
    }

    /// Sends what the stdin source has, then EOF once it ends.
    private func feed(_ source: any StdinSource, progressed: inout Bool) throws {
        isWaitingForLocalInput = false
        while true {
            if stdinOffset == stdinPending.count {
                switch source.next() {
                case let .data(bytes):
                    stdinPending = bytes
                    stdinOffset = 0
                case .pending:
                    isWaitingForLocalInput = true
                    return
                case .end:
                    let rc = libssh2_channel_send_eof(channel)
                    if rc == LIBSSH2_ERROR_EAGAIN { return }
                    if rc != 0 { throw failure(rc, "libssh2_channel_send_eof") }
                    stdinClosed = true
                    progressed = true
                    return
                }
            }
            let written = stdinPending.withUnsafeBytes { raw in
                libssh2_channel_write_ex(channel, 0, raw.baseAddress!.advanced(by: stdinOffset).assumingMemoryBound(to: CChar.self), stdinPending.count - stdinOffset)
            }
            if written == Int(LIBSSH2_ERROR_EAGAIN) { return }
            if written == Int(LIBSSH2_ERROR_CHANNEL_CLOSED) || written == Int(LIBSSH2_ERROR_CHANNEL_EOF_SENT) {
                // The command ended without reading all its input, as `true < file` does: not an error.
                stdinClosed = true
                isWaitingForLocalInput = false
                return
            }
            if written < 0 { throw failure(Int32(written), "libssh2_channel_write_ex") }
            stdinOffset += written
            progressed = true
        }
    }

    /// Reads a stream until libssh2 has nothing more; true when it is drained for now.
    private func drain(stream: Int32, into sink: OutputSink, progressed: inout Bool) throws -> Bool {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in
                libssh2_channel_read_ex(channel, stream, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
            }
            if count > 0 {
                buffer.withUnsafeBytes { sink(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                progressed = true
                continue
            }
            if count == 0 || count == Int(LIBSSH2_ERROR_EAGAIN) { return true }
            throw failure(Int32(count), "libssh2_channel_read_ex")
        }
    }

    private func readExit() -> RemoteExit {
        let status = libssh2_channel_get_exit_status(channel)
        var signalName: UnsafeMutablePointer<CChar>? = nil
        var signalLength = 0
        _ = libssh2_channel_get_exit_signal(channel, &signalName, &signalLength, nil, nil, nil, nil)
        var signal: String? = nil
        if let signalName {
            signal = signalLength > 0 ? String(cString: signalName) : nil
            libssh2_free(session.handle, signalName)
        }
        return RemoteExit(status: status, signal: signal)
    }
}
