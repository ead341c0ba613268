// Cuts the TCP byte stream into lines: CRLF ends a line, and so does a bare LF (clients that forget the CR).

/// A line, or a piece of one: a line too long to hold comes out in several pieces, all but the last without an ending.
struct LinePiece: Equatable, Sendable {
    enum Ending: Equatable, Sendable {
        case crlf
        case lf

        var bytes: [UInt8] {
            switch self {
            case .crlf: [0x0D, 0x0A]
            case .lf: [0x0A]
            }
        }
    }

    var content: [UInt8]
    /// nil: the line goes on in the next piece.
    var ending: Ending?
}

struct LineFramer: Sendable {
    /// Past this many bytes without a line ending, what we have goes out as a piece, so a client cannot make us buffer without bound.
    let maxPieceBytes: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    init(maxPieceBytes: Int = 8192) {
        precondition(maxPieceBytes >= 2, "a piece must have room for more than a held-back CR")
        self.maxPieceBytes = maxPieceBytes
    }

    mutating func append(_ bytes: some Sequence<UInt8>) {
        if readIndex > 0 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole line (without its ending), or a piece of an overlong one; nil when more bytes are needed.
    mutating func nextPiece() -> LinePiece? {
        if let newline = buffer[readIndex...].firstIndex(of: 0x0A) {
            var end = newline
            var ending = LinePiece.Ending.lf
            if end > readIndex, buffer[end - 1] == 0x0D {
                end -= 1
                ending = .crlf
            }
            let piece = LinePiece(content: Array(buffer[readIndex..<end]), ending: ending)
            readIndex = newline + 1
            return piece
        }
        guard buffer.count - readIndex >= maxPieceBytes else { return nil }
        var end = readIndex + maxPieceBytes
        // A CR at the cut may be the first half of a CRLF still on its way: keep it for the next piece.
        if buffer[end - 1] == 0x0D {
            end -= 1
        }
        let piece = LinePiece(content: Array(buffer[readIndex..<end]), ending: nil)
        readIndex = end
        return piece
    }
}
