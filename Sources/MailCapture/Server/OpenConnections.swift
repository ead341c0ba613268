// The connections a server has open, so stop() can close them. All of them live on the server's one event loop, so no lock.
import NIOCore

final class OpenConnections: Sendable {
    private let channels: NIOLoopBoundBox<[ObjectIdentifier: any Channel]>
    private let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        channels = .makeBoxSendingValue([:], eventLoop: eventLoop)
    }

    /// How many are open; call on the event loop.
    var count: Int { channels.value.count }

    /// Call on the event loop, as a child channel initializer does.
    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.value[key] = channel
        channel.closeFuture.whenComplete { [channels] _ in
            channels.value.removeValue(forKey: key)
        }
    }

    func closeAll() async {
        let open = try? await eventLoop.submit { [channels] in Array(channels.value.values) }.get()
        for channel in open ?? [] {
            try? await channel.close()
        }
    }
}
