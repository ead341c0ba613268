// Where finished messages go: written to the Maildir on a thread pool, so disk writes never block the event loop.
import NIOCore
import NIOPosix

struct MessageStore: Sendable {
    let maildir: Maildir
    let threadPool: NIOThreadPool
    let onMessage: @Sendable (StoredMessage) -> Void

    /// The future completes on `eventLoop` once the file is in new/.
    func store(_ message: CapturedMessage, peer: String, eventLoop: any EventLoop) -> EventLoopFuture<StoredMessage> {
        threadPool.runIfActive(eventLoop: eventLoop) { [maildir] in
            let headers = CaptureHeaders.render(peer: peer, mailFrom: message.mailFrom, recipients: message.recipients)
            let delivery = try maildir.deliver(headers: headers, content: message.content)
            return StoredMessage(
                id: delivery.uniqueName,
                path: delivery.path,
                mailFrom: message.mailFrom,
                recipients: message.recipients,
                peer: peer,
                size: message.content.count
            )
        }
    }
}
