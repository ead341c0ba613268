// A stream kept within a bound: its first bytes up to a cap, and always its last few bytes (where
// curl's `--write-out` puts the status), however much passes in between.

struct HeadAndTail {
    let headLimit: Int
    let tailLimit: Int
    private(set) var head: [UInt8] = []
    /// The last `tailLimit` bytes once the stream outgrew `headLimit`; empty until then.
    private(set) var tail: [UInt8] = []
    private(set) var total = 0

    init(headLimit: Int, tailLimit: Int) {
        self.headLimit = headLimit
        self.tailLimit = tailLimit
    }

    /// More than `headLimit` bytes arrived: `head` is only the start.
    var overflowed: Bool { total > headLimit }

    mutating func append(_ chunk: some Collection<UInt8>) {
        let (sum, overflow) = total.addingReportingOverflow(chunk.count)
        total = overflow ? .max : sum
        let room = max(headLimit - head.count, 0)
        head.append(contentsOf: chunk.prefix(room))
        guard chunk.count > room else { return }
        // Beyond the head: only the newest `tailLimit` bytes are worth keeping.
        tail.append(contentsOf: chunk.dropFirst(room).suffix(tailLimit))
        if tail.count > tailLimit { tail.removeFirst(tail.count - tailLimit) }
    }

    /// The stream's last `count` bytes (count <= tailLimit), from the tail or the head.
    func last(_ count: Int) -> [UInt8] {
        let joined = overflowed ? Array(head.suffix(max(count - tail.count, 0))) + tail : head
        return Array(joined.suffix(count))
    }
}
