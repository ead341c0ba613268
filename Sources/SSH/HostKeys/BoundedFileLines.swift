// A local file's lines as bytes, split on LF only (as OpenSSH's getline loop splits known_hosts),
// with a bound on what one line may hold in memory: a line longer than the bound keeps its start.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line without its LF: its first `keptLimit` bytes, and whether more followed.
struct BoundedLine {
    /// 1-based, as editors and OpenSSH's messages count.
    var number: Int
    var bytes: [UInt8]
    /// The line was longer than the limit: `bytes` holds its start only.
    var isTruncated: Bool
}

enum BoundedFileLines {
    /// Calls `body` for each line of the file at `path`; false when the file cannot be opened.
    /// Memory stays within `keptLimit` plus one read buffer, whatever the file holds.
    @discardableResult
    static func forEach(inFileAt path: String, keptLimit: Int, _ body: (BoundedLine) -> Void) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var splitter = LineSplitter(keptLimit: keptLimit)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }  // EOF, or a read error: what was read still counts
            splitter.feed(buffer[0..<count], body)
        }
        splitter.finish(body)
        return true
    }
}

/// Splits fed bytes into bounded lines; pure, so tests can feed it any chunking.
struct LineSplitter {
    let keptLimit: Int
    private var current: [UInt8] = []
    private var truncated = false
    private var number = 0
    private var sawBytesSinceNewline = false

    init(keptLimit: Int) {
        self.keptLimit = keptLimit
    }

    mutating func feed(_ chunk: ArraySlice<UInt8>, _ body: (BoundedLine) -> Void) {
        var start = chunk.startIndex
        while start < chunk.endIndex {
            let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n"))
            keep(chunk[start..<(newline ?? chunk.endIndex)])
            guard let newline else { return }
            emit(body)
            start = newline + 1
        }
    }

    /// A last line without LF still counts.
    mutating func finish(_ body: (BoundedLine) -> Void) {
        if sawBytesSinceNewline { emit(body) }
    }

    private mutating func keep(_ part: ArraySlice<UInt8>) {
        guard !part.isEmpty else { return }
        sawBytesSinceNewline = true
        let room = keptLimit - current.count
        if part.count > room { truncated = true }
        current.append(contentsOf: part.prefix(max(room, 0)))
    }

    private mutating func emit(_ body: (BoundedLine) -> Void) {
        number += 1
        body(BoundedLine(number: number, bytes: current, isTruncated: truncated))
        current.removeAll(keepingCapacity: true)
        truncated = false
        sawBytesSinceNewline = false
    }
}
