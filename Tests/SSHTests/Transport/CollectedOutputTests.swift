// A remote command's stdout as InteractiveCommand keeps it: whole lines out, never more than the
// bound held unread (a server that never sends a newline is cut off, not buffered).
@testable import SSH
import Testing

struct CollectedOutputTests {
    private func feed(_ output: CollectedOutput, _ text: String) {
        Array(text.utf8).withUnsafeBytes { output.append($0) }
    }

    @Test func linesComeOutWholeAcrossChunks() {
        let output = CollectedOutput(limit: 64)
        feed(output, "{\"ok\": tr")
        #expect(output.takeLine() == nil)
        feed(output, "ue}\n{\"next\"")
        #expect(output.takeLine().map { String(decoding: $0, as: UTF8.self) } == "{\"ok\": true}")
        #expect(output.takeLine() == nil)
        feed(output, "}\n")
        #expect(output.takeLine().map { String(decoding: $0, as: UTF8.self) } == "{\"next\"}")
        #expect(!output.overflowed)
    }

    @Test func moreThanTheBoundWithoutANewlineOverflowsAndIsNotKept() {
        let output = CollectedOutput(limit: 16)
        feed(output, "done\n")
        feed(output, String(repeating: "x", count: 11))  // 16 bytes held: still within the bound
        #expect(!output.overflowed)
        feed(output, "x")
        #expect(output.overflowed)
        feed(output, String(repeating: "y", count: 1000))
        #expect(output.bytes.count <= 16)
        // The complete line before the flood still reads; the flood never does.
        #expect(output.takeLine().map { String(decoding: $0, as: UTF8.self) } == "done")
        #expect(output.takeLine() == nil)
    }
}
