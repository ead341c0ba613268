// The http_get body bound: the first bytes kept up to the cap, the last few always, whatever the chunking.
import PropertyBased
@testable import StagefixCore
import Testing

struct HeadAndTailTests {
    @Test func keepsTheStartAndTheEndOfAnyStreamWithinItsBound() async {
        await propertyCheck(input: Gen.int(in: 0...255).array(of: 0...300), Gen.int(in: 1...40).array(of: 1...12), Gen.int(in: 0...64), Gen.int(in: 1...8)) { bytes, chunkSizes, headLimit, tailLimit in
            let stream = bytes.map(UInt8.init)
            var collector = HeadAndTail(headLimit: headLimit, tailLimit: tailLimit)
            var offset = 0, chunk = 0
            while offset < stream.count {
                let size = chunkSizes[chunk % chunkSizes.count]
                collector.append(stream[offset..<min(offset + size, stream.count)])
                offset += size
                chunk += 1
            }
            #expect(collector.total == stream.count)
            #expect(collector.head == Array(stream.prefix(headLimit)))
            #expect(collector.overflowed == (stream.count > headLimit))
            #expect(collector.tail.count <= tailLimit)
            #expect(collector.last(tailLimit) == Array(stream.suffix(tailLimit)))
        }
    }
}
