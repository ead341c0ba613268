// The DATA phase: collects message lines up to the lone "." and undoes dot-stuffing (RFC 5321 4.5.2).

struct MessageDataReader: Sendable {
    enum Progress: Equatable, Sendable {
        case needsMore
        /// The lone "." came: `content` is the whole message.
        case ended
    }

    private static let dot = UInt8(ascii: ".")

    let maxBytes: Int
    /// The message as the client meant it: dots un-stuffed, line endings as they came. Emptied once over `maxBytes`.
    private(set) var content: [UInt8] = []
    /// Bytes of the message so far, counting those dropped for being over the limit.
    private(set) var size = 0
    /// The last piece was cut from an overlong line: the next piece goes on with that line, so no dot rule applies to it.
    private var insideLine = false

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    var isOversized: Bool { size > maxBytes }

    mutating func take(_ piece: LinePiece) -> Progress {
        var bytes = piece.content[...]
        if !insideLine {
            if piece.ending != nil, bytes.count == 1, bytes.first == Self.dot {
                return .ended
            }
            if bytes.first == Self.dot {
                bytes = bytes.dropFirst()
            }
        }
        append(bytes)
        if let ending = piece.ending {
            append(ending.bytes)
        }
        insideLine = piece.ending == nil
        return .needsMore
    }

    private mutating func append(_ bytes: some Collection<UInt8>) {
        size += bytes.count
        if size <= maxBytes {
            content.append(contentsOf: bytes)
        } else if !content.isEmpty {
            // The message will be refused; holding the rest of it would only cost memory.
            content = []
        }
    }
}
