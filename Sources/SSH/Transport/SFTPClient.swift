// Reads and atomically replaces files over SFTP on an open session.
import CLibSSH2
import Foundation

/// The parts of a remote file's attributes stagefix uses.
public struct RemoteFileAttributes: Sendable, Equatable {
    public var size: UInt64
    /// Permission bits only (for example 0o600).
    public var permissions: UInt32
    public var userID: UInt32
    public var groupID: UInt32
    public var modificationTime: UInt64
    /// False for a folder, FIFO, socket or device: nothing to read as a file (a FIFO would block).
    public var isRegularFile: Bool

    public init(size: UInt64, permissions: UInt32, userID: UInt32, groupID: UInt32, modificationTime: UInt64, isRegularFile: Bool = true) {
        self.isRegularFile = isRegularFile
        self.size = size
        self.permissions = permissions
        self.userID = userID
        self.groupID = groupID
        self.modificationTime = modificationTime
    }
}

public final class SFTPClient {
    private let session: SSHSession
    private let handle: OpaquePointer
    private let timeout: Double
    /// A bound on all of this client's requests together (a command's `--timeout`): each request
    /// has `timeout`, but several stalled ones must not add up past the command's.
    private let overall: Deadline?

    /// Starts the SFTP subsystem on a channel of `session`.
    public init(session: SSHSession, timeout: Double, overall: Deadline? = nil) throws {
        self.session = session
        self.timeout = timeout
        self.overall = overall
        let own = Deadline(secondsFromNow: timeout)
        let deadline = overall.map { own.earliest($0) } ?? own
        handle = try session.retryPointer("starting SFTP", deadline: deadline, function: "libssh2_sftp_init") {
            libssh2_sftp_init(session.handle)
        }
    }

    deinit { libssh2_sftp_shutdown(handle) }

    /// One request's deadline: `timeout` from now, or the overall bound if that comes first.
    private func bound() -> Deadline {
        let own = Deadline(secondsFromNow: timeout)
        return overall.map { own.earliest($0) } ?? own
    }

    /// SFTP has no `~`: paths it gets relative are relative to the login directory.
    static func wirePath(_ path: String) -> String {
        if path == "~" { return "." }
        if path.hasPrefix("~/") { return String(path.dropFirst(2)) }
        return path
    }

    private func fileError(_ path: String, _ rc: Int32, _ doing: String) -> SSHError {
        guard rc == LIBSSH2_ERROR_SFTP_PROTOCOL else {
            return LibSSH2.error(rc, function: doing, during: "\(doing) \(path)", session: session.handle)
        }
        // Read the SFTP status only right after the failure: libssh2 never resets it (LIBSSH2-NOTES §7).
        switch libssh2_sftp_last_error(handle) {
        case LIBSSH2_FX_NO_SUCH_FILE, LIBSSH2_FX_NO_SUCH_PATH: return .remoteFile(path: path, reason: "no such file")
        case LIBSSH2_FX_PERMISSION_DENIED: return .remoteFile(path: path, reason: "permission denied")
        case let status: return .remoteFile(path: path, reason: "\(doing) failed (SFTP status \(status))")
        }
    }

    /// The file's attributes, or nil when it does not exist.
    public func attributes(of path: String) throws -> RemoteFileAttributes? {
        let wire = Self.wirePath(path)
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        let deadline = bound()
        while true {
            let rc = libssh2_sftp_stat_ex(handle, wire, UInt32(wire.utf8.count), LIBSSH2_SFTP_STAT, &attributes)
            if rc == 0 { break }
            if rc != LIBSSH2_ERROR_EAGAIN {
                let error = fileError(path, rc, "stat")
                if case .remoteFile(_, "no such file") = error { return nil }
                throw error
            }
            try session.makeWaiter().wait(deadline: deadline, during: "reading the attributes of \(path)")
        }
        return RemoteFileAttributes(
            size: attributes.filesize, permissions: UInt32(attributes.permissions & 0o7777),
            userID: UInt32(attributes.uid), groupID: UInt32(attributes.gid), modificationTime: UInt64(attributes.mtime),
            isRegularFile: attributes.flags & UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS) == 0 || attributes.permissions & 0o170000 == 0o100000)
    }

    private func open(_ path: String, flags: UInt, mode: Int) throws -> OpaquePointer {
        let wire = Self.wirePath(path)
        let deadline = bound()
        while true {
            if let file = libssh2_sftp_open_ex(handle, wire, UInt32(wire.utf8.count), flags, mode, LIBSSH2_SFTP_OPENFILE) {
                return file
            }
            let rc = libssh2_session_last_errno(session.handle)
            if rc != LIBSSH2_ERROR_EAGAIN { throw fileError(path, rc, "open") }
            try session.makeWaiter().wait(deadline: deadline, during: "opening \(path)")
        }
    }

    private func closeFile(_ file: OpaquePointer) {
        let deadline = Deadline(secondsFromNow: min(timeout, 5))
        try? session.retry("closing a file", deadline: deadline, function: "libssh2_sftp_close_handle") {
            libssh2_sftp_close_handle(file)
        }
    }

    /// The whole file; more than `maxBytes` is an error rather than a silent truncation.
    public func readFile(_ path: String, maxBytes: Int = 1 << 20) throws -> [UInt8] {
        let file = try open(path, flags: UInt(LIBSSH2_FXF_READ), mode: 0)
        defer { closeFile(file) }
        let deadline = bound()
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 32768)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in
                libssh2_sftp_read(file, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
            }
            if count == 0 { return contents }
            if count == Int(LIBSSH2_ERROR_EAGAIN) {
                try session.makeWaiter().wait(deadline: deadline, during: "reading \(path)")
                continue
            }
            if count < 0 { throw fileError(path, Int32(count), "read") }
            contents.append(contentsOf: chunk[0..<count])
            if contents.count > maxBytes {
                throw SSHError.remoteFile(path: path, reason: "larger than \(maxBytes) bytes; refusing to read it whole")
            }
        }
    }

    /// Replaces (or creates) `path` atomically: a temporary file beside it, written and fsynced, given
    /// the old file's mode and owner (or `newFileMode`), then renamed over it in one step.
    /// libssh2 1.10's SFTP rename cannot overwrite, so the rename is `mv -f` on an exec channel.
    public func writeFileAtomically(_ path: String, contents: [UInt8], newFileMode: UInt32 = 0o600) throws {
        let existing = try attributes(of: path)
        let directory = PathText.deletingLastComponent(path)
        let name = PathText.lastComponent(path)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).stagefix-\(suffix)"
        let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL)
        let file = try open(temporary, flags: flags, mode: 0o600)
        var renamed = false
        defer { if !renamed { try? remove(temporary) } }
        do {
            defer { closeFile(file) }
            try write(contents, to: file, path: temporary)
            let deadline = bound()
            try session.retry("syncing \(temporary)", deadline: deadline, function: "libssh2_sftp_fsync") { libssh2_sftp_fsync(file) }
            try setAttributes(of: file, path: temporary, permissions: existing?.permissions ?? newFileMode, owner: existing.map { ($0.userID, $0.groupID) })
        }
        // Wire paths: a quoted `~` would not expand, and exec channels start in the login directory too.
        let move = "mv -f -- \(ShellQuoting.quote(Self.wirePath(temporary))) \(ShellQuoting.quote(Self.wirePath(path)))"
        let result = try session.capture(move, timeout: timeout)
        guard result.exit.succeeded else {
            let message = String(decoding: result.stderr, as: UTF8.self).trimmingWhitespaceAndNewlines()
            throw SSHError.remoteFile(path: path, reason: "cannot replace it: \(message.isEmpty ? result.exit.description : message)")
        }
        renamed = true
    }

    private func write(_ contents: [UInt8], to file: OpaquePointer, path: String) throws {
        let deadline = bound()
        var offset = 0
        while offset < contents.count {
            let written = contents.withUnsafeBytes { raw in
                libssh2_sftp_write(file, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), contents.count - offset)
            }
            if written == Int(LIBSSH2_ERROR_EAGAIN) {
                // Repeat with the same buffer: write-ahead may already have sent part of it.
                try session.makeWaiter().wait(deadline: deadline, during: "writing \(path)")
                continue
            }
            if written < 0 { throw fileError(path, Int32(written), "write") }
            offset += written
        }
    }

    private func setAttributes(of file: OpaquePointer, path: String, permissions: UInt32, owner: (UInt32, UInt32)?) throws {
        let deadline = bound()
        var current = LIBSSH2_SFTP_ATTRIBUTES()
        try session.retry("reading the attributes of \(path)", deadline: deadline, function: "libssh2_sftp_fstat_ex") {
            libssh2_sftp_fstat_ex(file, &current, 0)
        }
        // Rebuild the struct before every call: 1.10 zeroes it on success (LIBSSH2-NOTES §7).
        try session.retry("setting the mode of \(path)", deadline: deadline, function: "libssh2_sftp_fstat_ex") {
            var wanted = LIBSSH2_SFTP_ATTRIBUTES()
            wanted.flags = UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS)
            wanted.permissions = UInt(permissions)
            return libssh2_sftp_fstat_ex(file, &wanted, 1)
        }
        if let (uid, gid) = owner, UInt(uid) != current.uid || UInt(gid) != current.gid {
            do {
                try session.retry("setting the owner of \(path)", deadline: deadline, function: "libssh2_sftp_fstat_ex") {
                    var wanted = LIBSSH2_SFTP_ATTRIBUTES()
                    wanted.flags = UInt(LIBSSH2_SFTP_ATTR_UIDGID)
                    wanted.uid = UInt(uid)
                    wanted.gid = UInt(gid)
                    return libssh2_sftp_fstat_ex(file, &wanted, 1)
                }
            } catch {
                throw SSHError.remoteFile(path: path, reason: "cannot keep the file's owner \(uid):\(gid) (the login user may not change owners); nothing was replaced")
            }
        }
    }

    /// Creates `path` only if nothing is there (O_EXCL on the server): false when it already exists.
    /// What a lock file needs: of several writers, exactly one succeeds.
    public func createExclusively(_ path: String, contents: [UInt8], mode: UInt32 = 0o600) throws -> Bool {
        let file: OpaquePointer
        do {
            file = try open(path, flags: UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL), mode: Int(mode))
        } catch SSHError.remoteFile(_, let reason) where reason.contains("SFTP status 11") || reason.contains("SFTP status 4") {
            // FILE_ALREADY_EXISTS, or the generic failure OpenSSH's sftp-server answers an O_EXCL clash
            // with (the file may be gone again by now, released by its holder: the caller retries).
            return false
        }
        defer { closeFile(file) }
        try write(contents, to: file, path: path)
        return true
    }

    /// Appends to a file (created with `newFileMode` when missing): a small record, written whole.
    public func append(_ path: String, contents: [UInt8], newFileMode: UInt32 = 0o600) throws {
        let file = try open(path, flags: UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_APPEND), mode: Int(newFileMode))
        defer { closeFile(file) }
        try write(contents, to: file, path: path)
    }

    /// The names in a directory (without `.` and `..`), or nil when it does not exist.
    public func listDirectory(_ path: String) throws -> [String]? {
        let wire = Self.wirePath(path)
        let deadline = bound()
        var directory: OpaquePointer?
        while directory == nil {
            directory = libssh2_sftp_open_ex(handle, wire, UInt32(wire.utf8.count), 0, 0, LIBSSH2_SFTP_OPENDIR)
            if directory != nil { break }
            let rc = libssh2_session_last_errno(session.handle)
            if rc != LIBSSH2_ERROR_EAGAIN {
                let error = fileError(path, rc, "opendir")
                if case .remoteFile(_, "no such file") = error { return nil }
                throw error
            }
            try session.makeWaiter().wait(deadline: deadline, during: "listing \(path)")
        }
        defer { closeFile(directory!) }
        var names: [String] = []
        var buffer = [CChar](repeating: 0, count: 1024)
        while true {
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            let count = buffer.withUnsafeMutableBufferPointer { raw in
                libssh2_sftp_readdir_ex(directory, raw.baseAddress, raw.count, nil, 0, &attributes)
            }
            if count == 0 { return names }
            if count == LIBSSH2_ERROR_EAGAIN {
                try session.makeWaiter().wait(deadline: deadline, during: "listing \(path)")
                continue
            }
            if count < 0 { throw fileError(path, count, "readdir") }
            let name = String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// The server's absolute form of `path` (`.` is the login folder): `realpath` on the server.
    public func realPath(_ path: String) throws -> String {
        let wire = Self.wirePath(path)
        let deadline = bound()
        var buffer = [CChar](repeating: 0, count: 4097)
        while true {
            let count = buffer.withUnsafeMutableBufferPointer { raw in
                libssh2_sftp_symlink_ex(handle, wire, UInt32(wire.utf8.count), raw.baseAddress, UInt32(raw.count - 1), LIBSSH2_SFTP_REALPATH)
            }
            if count >= 0 { return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            if count != LIBSSH2_ERROR_EAGAIN { throw fileError(path, count, "realpath") }
            try session.makeWaiter().wait(deadline: deadline, during: "resolving \(path)")
        }
    }

    /// Creates a folder (as the login user, so it is the site user's).
    public func makeDirectory(_ path: String, mode: UInt32 = 0o755) throws {
        let wire = Self.wirePath(path)
        let deadline = bound()
        while true {
            let rc = libssh2_sftp_mkdir_ex(handle, wire, UInt32(wire.utf8.count), Int(mode))
            if rc == 0 { return }
            if rc != LIBSSH2_ERROR_EAGAIN { throw fileError(path, rc, "mkdir") }
            try session.makeWaiter().wait(deadline: deadline, during: "creating \(path)")
        }
    }

    /// Deletes a file.
    public func remove(_ path: String) throws {
        let wire = Self.wirePath(path)
        let deadline = bound()
        try session.retry("removing \(path)", deadline: deadline, function: "libssh2_sftp_unlink_ex") {
            libssh2_sftp_unlink_ex(handle, wire, UInt32(wire.utf8.count))
        }
    }
}
