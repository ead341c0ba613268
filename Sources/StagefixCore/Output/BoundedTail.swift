// The last 64 KiB of a stream: enough for an error message, never the whole of a large output.
// A class, so a channel's output callback and the code reporting the error share one.
final class BoundedTail {
    /// What is kept of a stream (a runner's stderr, a step's output): its last 64 KiB.
    static let keptBytes = 64 << 10

    private(set) var bytes: [UInt8] = []

    func append(_ chunk: UnsafeRawBufferPointer) {
        // A flood keeps only its end: never copy more of a chunk than can stay.
        bytes.append(contentsOf: chunk.suffix(Self.keptBytes))
        if bytes.count > Self.keptBytes { bytes.removeFirst(bytes.count - Self.keptBytes) }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The last `count` lines, for a one-screen error.
    func lastLines(_ count: Int) -> String {
        text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}
