// The last 64 KiB of a stream: enough for an error message, never the whole of a large output.
// A class, so a channel's output callback and the code reporting the error share one.
final class BoundedTail {
    private(set) var bytes: [UInt8] = []

    func append(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk)
        if bytes.count > 65536 { bytes.removeFirst(bytes.count - 65536) }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The last `count` lines, for a one-screen error.
    func lastLines(_ count: Int) -> String {
        text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}
