// A remote command we converse with: requests written to its stdin, answers read back line by line,
// within a deadline per answer. The Django runner and, later, warm mode speak through it.

/// Bytes handed to a channel as they are queued; EOF once closed.
final class QueuedStdin: StdinSource {
    private var queued: [UInt8] = []
    private var closed = false

    func append(_ bytes: [UInt8]) { queued.append(contentsOf: bytes) }
    func close() { closed = true }

    func next() -> StdinChunk {
        if !queued.isEmpty {
            defer { queued = [] }
            return .data(queued)
        }
        return closed ? .end : .pending
    }
}

/// What a sink collected, up to a bound; a class so the channel's callbacks and the reader share it.
final class CollectedOutput {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    /// More arrived than `limit` allows unread: what came after it was dropped.
    private(set) var overflowed = false
    /// `bytes[..<scanned]` holds no newline (a long line is searched once, not once per chunk).
    private var scanned = 0

    init(limit: Int) {
        self.limit = limit
    }

    func append(_ chunk: UnsafeRawBufferPointer) {
        guard !overflowed else { return }
        guard chunk.count <= limit - bytes.count else {
            overflowed = true
            return
        }
        bytes.append(contentsOf: chunk)
    }

    /// The first complete line without its newline, removed from the buffer.
    func takeLine() -> [UInt8]? {
        guard let newline = bytes[scanned...].firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = bytes.count
            return nil
        }
        let line = Array(bytes[..<newline])
        bytes.removeSubrange(...newline)
        scanned = 0
        return line
    }

    func takeRest() -> [UInt8] {
        defer { bytes = []; scanned = 0 }
        return bytes
    }
}

public final class InteractiveCommand {
    /// The longest line read from a command, which is also all of its stdout kept unread: a runner
    /// answer is one JSON line, and a server that sends more without a newline is cut off (69)
    /// instead of filling this machine's memory.
    public static let maximumLineBytes = 16 << 20

    private let session: SSHSession
    private let process: RemoteProcess
    private let input = QueuedStdin()
    private let output: CollectedOutput

    /// Starts `command`; its stderr goes to `stderr` as it arrives.
    public init(session: SSHSession, command: String, maximumLineBytes: Int = InteractiveCommand.maximumLineBytes, stderr: @escaping OutputSink) {
        self.session = session
        let output = CollectedOutput(limit: maximumLineBytes)
        self.output = output
        process = RemoteProcess(session: session, command: RemoteCommand(command, stdin: input, stdout: { output.append($0) }, stderr: stderr))
    }

    deinit { process.abandonIfRunning() }

    public func send(_ bytes: [UInt8]) { input.append(bytes) }

    /// Ends the command's stdin (it sees EOF once what was sent is delivered).
    public func closeInput() { input.close() }

    public var isFinished: Bool { process.isFinished }

    /// Sends what is queued as far as the connection takes it now, without waiting for anything.
    public func flushWithoutWaiting() {
        for _ in 0..<8 {
            guard (try? process.advance()) == true else { return }
        }
    }

    /// Takes in whatever the server sent (without waiting) and says whether the command still runs.
    public func isAliveAfterPolling() -> Bool {
        do {
            while try process.advance() {}
        } catch {
            return false
        }
        return !process.isFinished
    }

    /// The next line of stdout without its newline, or nil when the command ended without one.
    /// Times out with `SSHError.timedOut` naming `during`.
    public func readLine(timeout: Double, during: String) throws -> [UInt8]? {
        let deadline = Deadline(secondsFromNow: timeout)
        let waiter = session.makeWaiter()
        while true {
            if let line = output.takeLine() { return line }
            if output.overflowed {
                // The line can never be read whole; the command is not worth waiting for.
                terminate()
                throw SSHError.connectionLost(during: during, reason: "the remote command sent more than \(ByteCount(output.limit)) without a line break; stopped reading it")
            }
            if process.isFinished {
                let rest = output.takeRest()
                return rest.isEmpty ? nil : rest
            }
            if try process.advance() || process.hasQueuedData { continue }
            do {
                try waiter.wait(deadline: deadline.earliest(Deadline(secondsFromNow: 0.05)), during: during)
            } catch SSHError.timedOut {
                if !deadline.hasPassed { continue }  // stdin queued while we waited has no socket event: look again
                // The whole bound, not the short look-again one that happened to expire last.
                throw SSHError.timedOut(during: during, seconds: timeout)
            }
        }
    }

    /// Closes stdin and waits for the command to end; its exit status.
    public func finish(timeout: Double) throws -> RemoteExit {
        input.close()
        let deadline = Deadline(secondsFromNow: timeout)
        let waiter = session.makeWaiter()
        while !process.isFinished {
            if try process.advance() || process.hasQueuedData { continue }
            try waiter.wait(deadline: deadline, during: process.phaseDescription)
        }
        return process.exit!
    }

    /// After a timeout: signal the remote process group and drop the channel.
    public func terminate() {
        session.terminateRemotely([process])
    }
}
