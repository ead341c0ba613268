// The staging site's mailbox: a Maildir (what a capture server or an MTA writes) or Django's
// file-backend folder (several messages per file, the last one possibly half-written), on the host
// over one SFTP session or on this machine. Messages before the last reset never count; returned
// ones are consumed.
import Crypto
import Foundation
import SSH

public enum MailSource: Sendable, Equatable, CustomStringConvertible {
    case maildir(String)
    case djangoFiles(String)

    /// `maildir:PATH` or `django-files:PATH`.
    public init(parsing text: String) throws {
        if text.hasPrefix("maildir:"), text.count > 8 {
            self = .maildir(String(text.dropFirst(8)))
        } else if text.hasPrefix("django-files:"), text.count > 13 {
            self = .djangoFiles(String(text.dropFirst(13)))
        } else {
            throw StagefixError.usage("mail source `\(text)` is not maildir:PATH or django-files:PATH")
        }
    }

    /// The same source with a relative path made absolute against this machine's working folder.
    public func resolvedLocally(from folder: String = FileManager.default.currentDirectoryPath) -> MailSource {
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") || path.hasPrefix("~") ? path : folder + "/" + path
        }
        switch self {
        case .maildir(let path): return .maildir(absolute(path))
        case .djangoFiles(let path): return .djangoFiles(absolute(path))
        }
    }

    public var folder: String {
        switch self {
        case .maildir(let path), .djangoFiles(let path): return path
        }
    }

    public var description: String {
        switch self {
        case .maildir(let path): return "maildir:\(path)"
        case .djangoFiles(let path): return "django-files:\(path)"
        }
    }
}

/// One message in the mailbox: where it is, when it arrived (server clock), and its parsed form.
public struct MailboxEntry: Sendable {
    /// The file, and for Django files the message's index in it.
    public var file: String
    public var index: Int
    /// SHA-256 of the raw bytes: how consumed messages are remembered.
    public var digest: String
    /// Seconds since 1970 on the server's clock: the file's mtime (Maildir) or the Date header (Django files).
    public var arrived: Double
    public var message: MailMessage
}

public final class Mailbox {
    public let source: MailSource
    private let sftp: any MailboxFiles
    private let host: String
    /// File requests made so far (over SFTP, the budget while waiting is a few per second).
    public private(set) var requests = 0
    private var fileCache: [String: (size: UInt64, mtime: UInt64, entries: [MailboxEntry], complete: Bool)] = [:]

    static let markFile = ".stagefix-mark"
    static let consumedFile = ".stagefix-consumed"

    /// On the host, over one SFTP session of `session`.
    /// `overall` bounds all its requests together (a `mail list` or `mail reset` within `--timeout`).
    public convenience init(session: SSHSession, source: MailSource, host: String, timeout: Double, overall: Deadline? = nil) throws {
        self.init(files: try SFTPClient(session: session, timeout: timeout, overall: overall), source: source, host: host)
    }

    /// `host` names where the files are in messages ("this machine" for local ones).
    public init(files: any MailboxFiles, source: MailSource, host: String) {
        self.source = source
        self.host = host
        sftp = files
    }

    private var messageFolders: [String] {
        switch source {
        case .maildir(let path): return [path + "/new", path + "/cur"]
        case .djangoFiles(let path): return [path]
        }
    }

    /// What changes when a message arrives: one `stat` per folder (and per half-written file), and the
    /// newest of those modification times (whole seconds: a change within the same second hides).
    public func changeToken() throws -> (token: String, newest: UInt64) {
        var parts: [String] = []
        var newest: UInt64 = 0
        var paths = messageFolders
        paths += fileCache.filter { !$0.value.complete }.keys.sorted()
        for path in paths {
            requests += 1
            let attributes = try sftp.attributes(of: path)
            parts.append(attributes.map { "\($0.modificationTime):\($0.size)" } ?? "-")
            newest = max(newest, attributes?.modificationTime ?? 0)
        }
        return (parts.joined(separator: " "), newest)
    }

    /// The reset mark (server time of the last `mail reset`), or nil when never reset.
    public func lastReset() throws -> Double? {
        requests += 1
        return try sftp.attributes(of: source.folder + "/" + Self.markFile).map { Double($0.modificationTime) }
    }

    /// A message file larger than this is skipped with a warning (test mail is small; a server
    /// filling the mailbox with huge files must not fill this machine's memory).
    public static let maximumFileBytes = 8 << 20
    /// What one scan reads or keeps, newest files first: the rest waits for a later scan, with a
    /// warning (160 hard links to one large message cost this much, not 160 times it).
    public static let maximumBytesPerScan = 24 << 20

    /// Warnings already given, so a poll four times a second repeats none.
    private var warned = Set<String>()

    private func warnOnce(_ file: String, _ why: String) {
        guard warned.insert(file + "\u{0}" + why).inserted else { return }
        StandardStreams.printError("stagefix: warning: skipping \(TerminalText.escaped(file)): \(why)")
    }

    /// Every complete, unconsumed message that arrived at or after `since`, oldest first.
    /// A file that cannot be read (unreadable, a folder, too large, past the scan's budget) or
    /// parsed is skipped with a warning; the others still count.
    public func messages(since: Double?) throws -> [MailboxEntry] {
        let consumed = try consumedDigests()
        var candidates: [(file: String, attributes: RemoteFileAttributes)] = []
        for folder in messageFolders {
            requests += 3
            guard let names = try sftp.listDirectory(folder) else { continue }
            for name in names where !name.hasPrefix(".") {
                let file = folder + "/" + name
                requests += 1
                let attributes: RemoteFileAttributes?
                do {
                    attributes = try sftp.attributes(of: file)
                } catch SSHError.remoteFile(_, let reason) {
                    warnOnce(file, reason)
                    continue
                }
                guard let attributes else { continue }  // consumed or delivered elsewhere meanwhile
                // Written before the reset: none of its messages can count (mtime >= arrival).
                if let since, Double(attributes.modificationTime) < since { continue }
                guard attributes.isRegularFile else {
                    warnOnce(file, "not a regular file (a folder, a FIFO...)")
                    continue
                }
                guard attributes.size <= UInt64(Self.maximumFileBytes) else {
                    warnOnce(file, "\(attributes.size) bytes, larger than stagefix's \(ByteCount(Self.maximumFileBytes)) for a message file")
                    continue
                }
                candidates.append((file, attributes))
            }
        }
        candidates.sort { ($0.attributes.modificationTime, $1.file) > ($1.attributes.modificationTime, $0.file) }
        var entries: [MailboxEntry] = []
        var kept = Set<String>()
        var budget = Self.maximumBytesPerScan
        for (file, attributes) in candidates {
            let size = Int(attributes.size)
            guard size <= budget else {
                warnOnce(file, "this scan already read \(ByteCount(Self.maximumBytesPerScan)) of newer messages")
                continue
            }
            guard let read = try read(file, attributes: attributes, maxBytes: min(budget, Self.maximumFileBytes)) else { continue }
            budget -= size
            kept.insert(file)
            entries += read
        }
        fileCache = fileCache.filter { kept.contains($0.key) }
        return entries
            .filter { entry in !consumed.contains(entry.digest) && (since.map { entry.arrived >= $0 } ?? true) }
            .sorted { ($0.arrived, $0.file, $0.index) < ($1.arrived, $1.file, $1.index) }
    }

    /// The file's messages (from the cache while its size and mtime stay); nil when it cannot be read.
    private func read(_ file: String, attributes: RemoteFileAttributes, maxBytes: Int) throws -> [MailboxEntry]? {
        if let cached = fileCache[file], cached.size == attributes.size, cached.mtime == attributes.modificationTime {
            return cached.entries
        }
        requests += 3
        let bytes: [UInt8]
        do {
            bytes = try sftp.readFile(file, maxBytes: maxBytes)
        } catch SSHError.remoteFile(_, "no such file") {
            return nil  // consumed or delivered elsewhere meanwhile
        } catch SSHError.remoteFile(_, let reason) {
            warnOnce(file, reason)
            return nil
        }
        var entries: [MailboxEntry] = []
        var complete = true
        let raw: [[UInt8]]
        switch source {
        case .maildir:
            raw = [bytes]
        case .djangoFiles:
            let split = DjangoMailFile.split(bytes)
            raw = split.messages
            complete = !split.incompleteTail
        }
        for (index, message) in raw.enumerated() {
            do {
                let parsed = try MailMessage.parse(message)
                let arrived: Double
                switch source {
                case .maildir: arrived = Double(attributes.modificationTime)
                case .djangoFiles: arrived = parsed.date?.timeIntervalSince1970 ?? Double(attributes.modificationTime)
                }
                entries.append(MailboxEntry(file: file, index: index, digest: Self.digest(message), arrived: arrived, message: parsed))
            } catch {
                warnOnce(file + (raw.count > 1 ? " message \(index + 1)" : ""), "not a mail message (\(TerminalText.escaped("\(error)")))")
            }
        }
        fileCache[file] = (attributes.size, attributes.modificationTime, entries, complete)
        return entries
    }

    /// A returned message is gone: its Maildir file deleted, or (Django files, several per file) remembered as consumed.
    public func consume(_ entry: MailboxEntry) throws {
        switch source {
        case .maildir:
            requests += 1
            try? sftp.remove(entry.file)
        case .djangoFiles:
            requests += 4
            let path = source.folder + "/" + Self.consumedFile
            try sftp.append(path, contents: Array((entry.digest + "\n").utf8), newFileMode: 0o600)
        }
    }

    private func consumedDigests() throws -> Set<String> {
        guard case .djangoFiles = source else { return [] }
        requests += 3
        do {
            let bytes = try sftp.readFile(source.folder + "/" + Self.consumedFile, maxBytes: 8 << 20)
            return Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init))
        } catch SSHError.remoteFile(_, "no such file") {
            return []
        }
    }

    /// Empties the mailbox and records the time; returns the mark (`mail wait --since`).
    public func reset() throws -> MailMark {
        try createIfMissing()
        for folder in messageFolders {
            guard let names = try sftp.listDirectory(folder) else { continue }
            for name in names where !name.hasPrefix(".") { try? sftp.remove(folder + "/" + name) }
        }
        try? sftp.remove(source.folder + "/" + Self.consumedFile)
        try sftp.writeFileAtomically(source.folder + "/" + Self.markFile, contents: Array("stagefix mail reset\n".utf8), newFileMode: 0o644)
        guard let time = try lastReset() else { throw StagefixError.remoteCommandFailed(command: "mail reset", exit: RemoteExit(status: 1), stderrTail: "the reset mark was not written") }
        return MailMark(seconds: time)
    }

    /// Whether the mailbox folder exists. Before the site's first email it may not (an empty
    /// mailbox); a missing parent as well is a typo in the source (78), not a first run.
    public func folderExists() throws -> Bool {
        let folder = source.folder
        requests += 1
        if try sftp.attributes(of: folder) != nil { return true }
        let parent = PathText.deletingLastComponent(folder)
        if !parent.isEmpty, parent != "~", parent != "/" {
            requests += 1
            guard try sftp.attributes(of: parent) != nil else {
                throw StagefixError.configuration("the mail source \(source) is in \(parent), which does not exist on \(host); check the path (a typo?)")
            }
        }
        return false
    }

    /// Reset makes a missing folder (as the login user, the site's own), like an empty one.
    func createIfMissing() throws {
        guard try !folderExists() else { return }
        let folder = source.folder
        try sftp.makeDirectory(folder, mode: 0o755)
        if case .maildir = source {
            for sub in ["new", "cur", "tmp"] { try sftp.makeDirectory(folder + "/" + sub, mode: 0o755) }
        }
    }

    static func digest(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// A point in the server's time from which messages count: printed by `mail reset`, taken by `--since`
/// (also an ISO 8601 time or seconds since 1970).
public struct MailMark: Sendable, Equatable, CustomStringConvertible {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public init(parsing text: String) throws {
        let trimmed = text.hasPrefix("mark:") ? String(text.dropFirst(5)) : text
        if let seconds = Double(trimmed) {
            self.seconds = seconds
        } else if let date = ISO8601DateFormatter().date(from: trimmed) {
            seconds = date.timeIntervalSince1970
        } else {
            throw StagefixError.usage("--since \(text): give a mark from `stagefix mail reset` (mark:SECONDS), seconds since 1970 or an ISO 8601 time")
        }
    }

    public var description: String { "mark:\(Int(seconds))" }
}
