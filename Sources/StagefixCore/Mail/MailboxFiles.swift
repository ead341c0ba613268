// Where a mailbox's files are: on the host over SFTP, or on this machine (what `mail serve` writes
// without SSH). The mailbox logic (reset marks, consumed messages, polling) is the same for both.
import Foundation
import SSH

public protocol MailboxFiles: AnyObject {
    /// nil when the file does not exist.
    func attributes(of path: String) throws -> RemoteFileAttributes?
    /// nil when the folder does not exist.
    func listDirectory(_ path: String) throws -> [String]?
    /// Throws `SSHError.remoteFile(path, "no such file")` when it is missing.
    func readFile(_ path: String, maxBytes: Int) throws -> [UInt8]
    func remove(_ path: String) throws
    func append(_ path: String, contents: [UInt8], newFileMode: UInt32) throws
    func writeFileAtomically(_ path: String, contents: [UInt8], newFileMode: UInt32) throws
    func makeDirectory(_ path: String, mode: UInt32) throws
}

extension SFTPClient: MailboxFiles {}

/// The same operations on this machine's files (`~/` is the home folder).
public final class LocalFiles: MailboxFiles {
    public init() {}

    static func expand(_ path: String) -> String {
        if path == "~" { return NSHomeDirectory() }
        if path.hasPrefix("~/") { return NSHomeDirectory() + "/" + path.dropFirst(2) }
        return path
    }

    private func failure(_ path: String, _ code: Int32) -> SSHError {
        switch code {
        case ENOENT, ENOTDIR: return .remoteFile(path: path, reason: "no such file")
        case EACCES, EPERM: return .remoteFile(path: path, reason: "permission denied")
        default: return .remoteFile(path: path, reason: String(cString: strerror(code)))
        }
    }

    public func attributes(of path: String) throws -> RemoteFileAttributes? {
        var info = stat()
        guard stat(Self.expand(path), &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw failure(path, errno)
        }
        return RemoteFileAttributes(
            size: UInt64(info.st_size), permissions: UInt32(info.st_mode) & 0o7777,
            userID: info.st_uid, groupID: info.st_gid, modificationTime: UInt64(info.st_mtim.tv_sec),
            isRegularFile: info.st_mode & S_IFMT == S_IFREG)
    }

    public func makeDirectory(_ path: String, mode: UInt32) throws {
        guard mkdir(Self.expand(path), mode_t(mode)) == 0 || errno == EEXIST else { throw failure(path, errno) }
    }

    public func listDirectory(_ path: String) throws -> [String]? {
        guard let directory = opendir(Self.expand(path)) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw failure(path, errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func readFile(_ path: String, maxBytes: Int) throws -> [UInt8] {
        let descriptor = open(Self.expand(path), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path, errno) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return contents }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(path, errno)
            }
            contents += chunk[0..<count]
            if contents.count > maxBytes {
                throw SSHError.remoteFile(path: path, reason: "larger than \(maxBytes) bytes; refusing to read it whole")
            }
        }
    }

    public func remove(_ path: String) throws {
        guard unlink(Self.expand(path)) == 0 else { throw failure(path, errno) }
    }

    public func append(_ path: String, contents: [UInt8], newFileMode: UInt32) throws {
        let descriptor = open(Self.expand(path), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode_t(newFileMode))
        guard descriptor >= 0 else { throw failure(path, errno) }
        defer { close(descriptor) }
        try writeAll(descriptor, contents, path: path)
    }

    public func writeFileAtomically(_ path: String, contents: [UInt8], newFileMode: UInt32) throws {
        let target = Self.expand(path)
        let temporary = target + ".stagefix-\(UInt64.random(in: 0...UInt64.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(newFileMode))
        guard descriptor >= 0 else { throw failure(path, errno) }
        do {
            try writeAll(descriptor, contents, path: path)
            fsync(descriptor)
            close(descriptor)
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure(path, code)
        }
    }

    private func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw failure(path, errno)
            }
            offset += written
        }
    }
}
