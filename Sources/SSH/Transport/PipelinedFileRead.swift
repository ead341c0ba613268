// Reads one small file over SFTP in three round trips instead of libssh2's six: the channel, the
// subsystem, then INIT with OPEN and a first batch of FSTAT and READs (under the handle OpenSSH's
// sftp-server will give); nothing waits for the CLOSE. Used for the guard's env read, which every
// fixture pays for before anything else.
import CLibSSH2
import Foundation

extension SSHSession {
    /// The whole file at `path` (`~/` is the login directory). Throws `.remoteFile(path, "no such
    /// file")` when it is missing, like `SFTPClient.readFile`, which it replaces on the hot path.
    public func readFilePipelined(_ path: String, maxBytes: Int = 1 << 20, timeout: Double) throws -> [UInt8] {
        try readFilePipelined(path, maxBytes: maxBytes, timeout: timeout, handleGuess: PipelinedFileRead.openSSHFirstHandle).contents
    }

    /// The same, with the first batch of reads sent under `handleGuess` (tests try a wrong one), and
    /// how many batches of reads it sent (the guessed one included: a right guess saves one).
    package func readFilePipelined(_ path: String, maxBytes: Int = 1 << 20, timeout: Double, handleGuess: [UInt8]) throws -> (contents: [UInt8], batches: Int) {
        var transfer = try PipelinedFileRead(session: self, path: path, maxBytes: maxBytes, deadline: Deadline(secondsFromNow: timeout), handleGuess: handleGuess)
        let contents = try transfer.run()
        return (contents, transfer.batchesSent)
    }
}

/// The SFTP v3 packets this read needs (draft-ietf-secsh-filexfer-02), framed by hand.
enum SFTPPacket {
    static let initialise: UInt8 = 1, version: UInt8 = 2, open: UInt8 = 3, close: UInt8 = 4, read: UInt8 = 5, fstat: UInt8 = 8
    static let status: UInt8 = 101, handle: UInt8 = 102, data: UInt8 = 103, attributes: UInt8 = 105
    static let readFlag: UInt32 = 0x01, sizeFlag: UInt32 = 0x01
    static let statusEOF: UInt32 = 1, statusNoSuchFile: UInt32 = 2, statusPermissionDenied: UInt32 = 3

    static func frame(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        var packet = bigEndian(UInt32(body.count + 1))
        packet.append(type)
        packet += body
        return packet
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        bigEndian(UInt32(value >> 32)) + bigEndian(UInt32(value & 0xffff_ffff))
    }

    static func string(_ bytes: [UInt8]) -> [UInt8] { bigEndian(UInt32(bytes.count)) + bytes }
}

struct PipelinedFileRead {
    let session: SSHSession
    let path: String
    let maxBytes: Int
    let deadline: Deadline
    let handleGuess: [UInt8]
    let waiter: SocketWaiter
    private var channel: OpaquePointer? = nil
    /// Batches of FSTAT and READs sent, the guessed one included.
    private(set) var batchesSent = 0
    private var incoming: [UInt8] = []
    private var scratch = [UInt8](repeating: 0, count: 32768)

    /// Reads in flight at once: a typical .env (under a few KiB) is one of them.
    static let chunk: UInt32 = 32768
    static let readsInFlight = 4
    static let openID: UInt32 = 1

    init(session: SSHSession, path: String, maxBytes: Int, deadline: Deadline, handleGuess: [UInt8]) throws {
        self.session = session
        self.path = path
        self.maxBytes = maxBytes
        self.deadline = deadline
        self.handleGuess = handleGuess
        waiter = session.makeWaiter()
    }

    private var during: String { "reading \(path) over SFTP" }

    mutating func run() throws -> [UInt8] {
        let handle = session.handle
        channel = try session.retryPointer(during, deadline: deadline, function: "libssh2_channel_open_ex") {
            libssh2_channel_open_ex(handle, "session", 7, 2 * 1024 * 1024, 32768, nil, 0)
        }
        // Closed on every path, without waiting; libssh2_session_free frees it.
        defer { closeWithoutWaiting() }

        // The subsystem request goes out, then INIT and OPEN together. sshd opens the channel's window
        // only once sftp-server runs, so they leave after the request's reply in practice; a server
        // that opens it earlier gets them at once.
        var started = libssh2_channel_process_startup(channel, "subsystem", 9, "sftp", 4)
        while started == LIBSSH2_ERROR_EAGAIN && libssh2_session_block_directions(handle) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
            try waiter.wait(deadline: deadline, during: during)
            started = libssh2_channel_process_startup(channel, "subsystem", 9, "sftp", 4)
        }
        let wirePath = Array(SFTPClient.wirePath(path).utf8)
        // The first batch of reads travels with the OPEN, under the handle OpenSSH's sftp-server gives
        // its first open file (its slot number, 0). It counts only if the OPEN's reply names that very
        // handle; otherwise its replies are errors about a handle that does not exist, and are dropped.
        var nextID = Self.openID + 1
        let speculative = Self.batch(handle: handleGuess, firstID: nextID, from: 0)
        nextID += speculative.requestCount
        try write(SFTPPacket.frame(SFTPPacket.initialise, SFTPPacket.bigEndian(UInt32(3)))
            + SFTPPacket.frame(SFTPPacket.open, SFTPPacket.bigEndian(Self.openID) + SFTPPacket.string(wirePath)
                + SFTPPacket.bigEndian(SFTPPacket.readFlag) + SFTPPacket.bigEndian(UInt32(0)))
            + speculative.bytes)
        batchesSent = 1
        // Asked before any wait: writing may already have read the reply into libssh2's queue, and
        // polling for it then would wait on a socket with nothing more to come.
        if started == LIBSSH2_ERROR_EAGAIN { started = libssh2_channel_process_startup(channel, "subsystem", 9, "sftp", 4) }
        while started == LIBSSH2_ERROR_EAGAIN {
            try waiter.wait(deadline: deadline, during: during)
            started = libssh2_channel_process_startup(channel, "subsystem", 9, "sftp", 4)
        }
        if started == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED {
            throw SSHError.remoteFile(path: path, reason: "the server offers no SFTP subsystem (sshd_config Subsystem sftp)")
        }
        if started != 0 { throw LibSSH2.error(started, function: "libssh2_channel_process_startup", during: during, session: handle) }

        let (versionType, _) = try nextPacket()
        guard versionType == SFTPPacket.version else { throw protocolError("expected VERSION, got packet type \(versionType)") }
        let (fileHandle, early) = try openedHandle(speculative: speculative)
        var pending: Batch? = speculative
        if fileHandle != handleGuess || early > 0 {
            // A wrong guess, or replies to the guess that came before the OPEN's: not to be trusted.
            try discardReplies(to: speculative, count: Int(speculative.requestCount) - early)
            pending = nil
        }

        // Each batch of reads travels with an FSTAT, so a short last chunk is known to be the end
        // without asking again; a typical .env is the first read of the first batch.
        var contents: [UInt8] = []
        while true {
            if deadline.hasPassed { throw SSHError.timedOut(during: during, seconds: deadline.seconds) }
            let before = contents.count
            let batch: Batch
            if let first = pending {
                batch = first
                pending = nil
            } else {
                batch = Self.batch(handle: fileHandle, firstID: nextID, from: UInt64(contents.count))
                nextID += batch.requestCount
                try write(batch.bytes)
                batchesSent += 1
            }
            let (size, replies, refused) = try receiveReplies(to: batch)
            if refused {
                // A server that ran the guessed batch before the OPEN refuses the handle: ask again.
                guard batch.statID == speculative.statID else { throw protocolError("a READ refused for an open handle") }
                continue
            }
            var finished = false
            for offset in batch.offsets {
                guard case let .some(reply) = replies[offset], let data = reply else { finished = true; break }
                contents += data
                if data.count < Int(Self.chunk) {
                    // Short: the end when FSTAT says so; otherwise the next batch asks from here.
                    finished = size.map { UInt64(contents.count) >= $0 } ?? false
                    break
                }
            }
            if contents.count > maxBytes {
                throw SSHError.remoteFile(path: path, reason: "larger than \(maxBytes) bytes; refusing to read it whole")
            }
            if finished { break }
            if contents.count == before { throw protocolError("READs that returned no data short of the file's end") }
        }
        try write(SFTPPacket.frame(SFTPPacket.close, SFTPPacket.bigEndian(nextID) + SFTPPacket.string(fileHandle)))
        return contents
    }

    /// One FSTAT and `readsInFlight` READs of consecutive chunks, sent together.
    struct Batch {
        let statID: UInt32
        let readIDs: [UInt32]
        let offsets: [UInt64]
        let bytes: [UInt8]
        var requestCount: UInt32 { UInt32(readIDs.count + 1) }
    }

    /// What OpenSSH's sftp-server calls its first open file: slot 0, as a big-endian UInt32.
    static let openSSHFirstHandle: [UInt8] = [0, 0, 0, 0]

    static func batch(handle: [UInt8], firstID: UInt32, from base: UInt64) -> Batch {
        var bytes = SFTPPacket.frame(SFTPPacket.fstat, SFTPPacket.bigEndian(firstID) + SFTPPacket.string(handle))
        var readIDs: [UInt32] = []
        var offsets: [UInt64] = []
        for index in 0..<readsInFlight {
            let id = firstID + 1 + UInt32(index)
            let offset = base + UInt64(index) * UInt64(chunk)
            readIDs.append(id)
            offsets.append(offset)
            bytes += SFTPPacket.frame(SFTPPacket.read, SFTPPacket.bigEndian(id) + SFTPPacket.string(handle)
                + SFTPPacket.bigEndian(offset) + SFTPPacket.bigEndian(chunk))
        }
        return Batch(statID: firstID, readIDs: readIDs, offsets: offsets, bytes: bytes)
    }

    /// The batch's replies: the file's size (from FSTAT), each offset's data (nil: EOF there), and
    /// whether a READ was refused (an error STATUS other than EOF).
    private mutating func receiveReplies(to batch: Batch) throws -> (size: UInt64?, replies: [UInt64: [UInt8]?], refused: Bool) {
        var size: UInt64? = nil
        var replies: [UInt64: [UInt8]?] = [:]
        var refused = false
        var answered = Set<UInt32>()
        for _ in 0..<batch.requestCount {
            let (type, body) = try nextPacket()
            var reader = SFTPReader(body)
            guard let id = reader.uint32() else { throw protocolError("a reply without a request id") }
            guard answered.insert(id).inserted else { throw protocolError("two replies to request \(id)") }
            if id == batch.statID {
                if type == SFTPPacket.attributes, let flags = reader.uint32(), flags & SFTPPacket.sizeFlag != 0 { size = reader.uint64() }
            } else if let index = batch.readIDs.firstIndex(of: id) {
                if type == SFTPPacket.data, let data = reader.string() {
                    replies[batch.offsets[index]] = data
                } else if type == SFTPPacket.status {
                    if reader.uint32() == SFTPPacket.statusEOF { replies[batch.offsets[index]] = .some(nil) } else { refused = true }
                } else {
                    throw protocolError("unexpected reply type \(type) to READ")
                }
            } else {
                throw protocolError("a reply to a request never made")
            }
        }
        return (size, replies, refused)
    }

    /// Reads past the (remaining) replies to a batch whose guessed handle is not to be used.
    private mutating func discardReplies(to batch: Batch, count: Int) throws {
        for _ in 0..<max(0, count) {
            let (_, body) = try nextPacket()
            var reader = SFTPReader(body)
            guard let id = reader.uint32(), id == batch.statID || batch.readIDs.contains(id) else {
                throw protocolError("a reply to a request never made")
            }
        }
    }

    /// The HANDLE for the OPEN (and how many replies to the guessed batch came before it: a server
    /// may answer out of order), or the typed error for its STATUS.
    private mutating func openedHandle(speculative: Batch) throws -> (handle: [UInt8], early: Int) {
        var early = 0
        var type: UInt8
        var reader: SFTPReader
        while true {
            let (packetType, body) = try nextPacket()
            type = packetType
            reader = SFTPReader(body)
            let id = reader.uint32()
            if id == Self.openID { break }
            guard let id, id == speculative.statID || speculative.readIDs.contains(id), early < Int(speculative.requestCount) else {
                throw protocolError("a reply to a request never made")
            }
            early += 1
        }
        if type == SFTPPacket.handle, let handle = reader.string() { return (handle, early) }
        guard type == SFTPPacket.status, let code = reader.uint32() else { throw protocolError("unexpected reply type \(type) to OPEN") }
        switch code {
        case SFTPPacket.statusNoSuchFile: throw SSHError.remoteFile(path: path, reason: "no such file")
        case SFTPPacket.statusPermissionDenied: throw SSHError.remoteFile(path: path, reason: "permission denied")
        default: throw SSHError.remoteFile(path: path, reason: "open failed (SFTP status \(code))")
        }
    }

    private func protocolError(_ detail: String) -> SSHError {
        .connectionLost(during: during, reason: "the SFTP server broke the protocol: \(detail)")
    }

    private mutating func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                libssh2_channel_write_ex(channel, 0, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), bytes.count - offset)
            }
            if written == Int(LIBSSH2_ERROR_EAGAIN) {
                try waiter.wait(deadline: deadline, during: during)
                continue
            }
            if written < 0 { throw LibSSH2.error(Int32(written), function: "libssh2_channel_write_ex", during: during, session: session.handle) }
            offset += written
        }
    }

    /// The next whole SFTP packet from the channel: its type and the bytes after it.
    private mutating func nextPacket() throws -> (UInt8, [UInt8]) {
        while true {
            if incoming.count >= 5 {
                let length = Int(incoming[0]) << 24 | Int(incoming[1]) << 16 | Int(incoming[2]) << 8 | Int(incoming[3])
                guard length >= 1, length <= 1 << 24 else { throw protocolError("packet length \(length)") }
                if incoming.count >= 4 + length {
                    let type = incoming[4]
                    let body = Array(incoming[5..<(4 + length)])
                    incoming.removeFirst(4 + length)
                    return (type, body)
                }
            }
            // sftp-server's stderr is unused, but an unread one would hold the window shut; read
            // before stdout, so stdout's EAGAIN below really means nothing is queued.
            _ = scratch.withUnsafeMutableBytes { raw in
                libssh2_channel_read_ex(channel, Int32(SSH_EXTENDED_DATA_STDERR), raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
            }
            let count = scratch.withUnsafeMutableBytes { raw in
                libssh2_channel_read_ex(channel, 0, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
            }
            if count > 0 {
                incoming += scratch[0..<count]
                continue
            }
            if count == Int(LIBSSH2_ERROR_EAGAIN) {
                try waiter.wait(deadline: deadline, during: during)
                continue
            }
            if count == 0 && libssh2_channel_eof(channel) != 0 {
                throw SSHError.connectionLost(during: during, reason: "the SFTP server ended the channel early")
            }
            if count < 0 { throw LibSSH2.error(Int32(count), function: "libssh2_channel_read_ex", during: during, session: session.handle) }
            try waiter.wait(deadline: deadline, during: during)
        }
    }

    /// Sends the channel's CLOSE and moves on: the server's reply is handled whenever libssh2 next
    /// reads, and libssh2_session_free frees the channel.
    private func closeWithoutWaiting() {
        guard let channel else { return }
        var rc = libssh2_channel_close(channel)
        // Only a half-sent CLOSE must be finished here (libssh2 refuses any other packet until it is).
        var spins = 0
        while rc == LIBSSH2_ERROR_EAGAIN && libssh2_session_block_directions(session.handle) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 && spins < 100 {
            try? waiter.wait(deadline: deadline, during: during)
            rc = libssh2_channel_close(channel)
            spins += 1
        }
    }
}

/// Reads SFTP's big-endian integers and strings.
struct SFTPReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func uint32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func uint64() -> UInt64? {
        guard let high = uint32(), let low = uint32() else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    mutating func string() -> [UInt8]? {
        guard let length = uint32(), offset + Int(length) <= bytes.count else { return nil }
        defer { offset += Int(length) }
        return Array(bytes[offset..<(offset + Int(length))])
    }
}
