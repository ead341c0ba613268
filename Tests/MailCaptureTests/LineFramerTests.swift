// Line framing on its own: CRLF, bare LF, lines split across reads, overlong lines cut into pieces.
import Testing
@testable import MailCapture

@Suite("Line framer")
struct LineFramerTests {
    private func pieces(_ framer: inout LineFramer) -> [LinePiece] {
        var result: [LinePiece] = []
        while let piece = framer.nextPiece() {
            result.append(piece)
        }
        return result
    }

    @Test func crlfAndBareLFBothEndLines() {
        var framer = LineFramer()
        framer.append(Array("one\r\ntwo\nthree\r\n\r\npartial".utf8))
        #expect(pieces(&framer) == [
            LinePiece(content: Array("one".utf8), ending: .crlf),
            LinePiece(content: Array("two".utf8), ending: .lf),
            LinePiece(content: Array("three".utf8), ending: .crlf),
            LinePiece(content: [], ending: .crlf),
        ])
        framer.append(Array(" line\r\n".utf8))
        #expect(pieces(&framer) == [LinePiece(content: Array("partial line".utf8), ending: .crlf)])
    }

    @Test func aCRSplitFromItsLFStillMakesCRLF() {
        var framer = LineFramer()
        framer.append(Array("abc\r".utf8))
        #expect(framer.nextPiece() == nil)
        framer.append([0x0A])
        #expect(framer.nextPiece() == LinePiece(content: Array("abc".utf8), ending: .crlf))
    }

    @Test func aLoneCRInsideALineIsContent() {
        var framer = LineFramer()
        framer.append(Array("a\rb\r\n".utf8))
        #expect(framer.nextPiece() == LinePiece(content: Array("a\rb".utf8), ending: .crlf))
    }

    @Test func anOverlongLineComesOutInPiecesHoldingBackATrailingCR() {
        var framer = LineFramer(maxPieceBytes: 4)
        framer.append(Array("abc\r".utf8))
        // Four bytes without an LF: cut, but the CR may belong to a CRLF, so it waits.
        #expect(framer.nextPiece() == LinePiece(content: Array("abc".utf8), ending: nil))
        #expect(framer.nextPiece() == nil)
        framer.append(Array("\nxyzwv".utf8))
        #expect(pieces(&framer) == [
            LinePiece(content: [], ending: .crlf),
            LinePiece(content: Array("xyzw".utf8), ending: nil),
        ])
    }
}
