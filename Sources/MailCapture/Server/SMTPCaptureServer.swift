// The capture server's life: bind, accept connections, stop. The SMTP itself is in SMTPSessionHandler and SMTPConversation.
import Foundation
import NIOCore
import NIOPosix

public final class SMTPCaptureServer: Sendable {
    public let configuration: CaptureServerConfiguration
    /// Where it listens; the real port when port 0 was asked.
    public let localAddress: (host: String, port: Int)

    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let fileIO: NIOThreadPool
    private let listener: any Channel
    private let connections: OpenConnections
    private let stopOnce = StopOnce()

    private init(
        configuration: CaptureServerConfiguration,
        localAddress: (host: String, port: Int),
        eventLoopGroup: MultiThreadedEventLoopGroup,
        fileIO: NIOThreadPool,
        listener: any Channel,
        connections: OpenConnections
    ) {
        self.configuration = configuration
        self.localAddress = localAddress
        self.eventLoopGroup = eventLoopGroup
        self.fileIO = fileIO
        self.listener = listener
        self.connections = connections
    }

    /// Creates the Maildir if needed, binds, and starts accepting. `onMessage` runs once per stored message, before the client gets its 250.
    public static func start(
        _ configuration: CaptureServerConfiguration,
        onMessage: @escaping @Sendable (StoredMessage) -> Void = { _ in }
    ) async throws(MailCaptureError) -> SMTPCaptureServer {
        try configuration.validate()
        let maildir = Maildir(path: configuration.maildir, host: configuration.hostname)
        try maildir.prepare()

        // One event loop: a capture server for tests never needs more, and it keeps connection bookkeeping lock-free.
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let fileIO = NIOThreadPool(numberOfThreads: 1)
        fileIO.start()
        let connections = OpenConnections(eventLoop: eventLoopGroup.next())
        let store = MessageStore(maildir: maildir, threadPool: fileIO, onMessage: onMessage)
        let hostname = configuration.hostname
        let limits = SMTPConversation.Limits(
            maxMessageBytes: configuration.maxMessageBytes,
            maxRecipients: configuration.maxRecipients
        )
        let loop = eventLoopGroup.next()
        let shared = NIOLoopBoundBox.makeBoxSendingValue(
            CaptureLimits(maildirQuotaBytes: configuration.maildirQuotaBytes, maxBufferedBytes: configuration.maxBufferedBytes),
            eventLoop: loop)
        let maxConnections = configuration.maxConnections
        let idleTimeout = TimeAmount.nanoseconds(Int64(configuration.idleTimeoutSeconds * 1e9))

        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            // Lets a restarted server take its port back at once instead of waiting out TIME_WAIT.
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Counted before this one is added: the cap is on connections already being served.
                    if connections.count >= maxConnections {
                        try channel.pipeline.syncOperations.addHandler(RefusingHandler(reply: .tooManyConnections))
                        return
                    }
                    connections.add(channel)
                    let conversation = SMTPConversation(hostname: hostname, limits: limits)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(SMTPSessionHandler(conversation: conversation, store: store, limits: shared.value))
                }
            }

        let listener: any Channel
        do {
            listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            try? await fileIO.shutdownGracefully()
            try? await eventLoopGroup.shutdownGracefully()
            throw MailCaptureError.listenFailure(host: configuration.host, port: configuration.port, error)
        }
        let bound = listener.localAddress
        return SMTPCaptureServer(
            configuration: configuration,
            localAddress: (bound?.ipAddress ?? configuration.host, bound?.port ?? configuration.port),
            eventLoopGroup: eventLoopGroup,
            fileIO: fileIO,
            listener: listener,
            connections: connections
        )
    }

    /// Closes the listener and every open connection (a message still in DATA is dropped), then stops the threads.
    /// Calling it again does nothing. Call it before dropping the server: its threads do not stop by themselves.
    public func stop() async throws {
        // Not on the event loop: after the first stop it is gone, and work sent to it would never finish.
        guard stopOnce.claim() else { return }
        // The listener first, so no new connection comes in while the open ones close.
        try? await listener.close()
        await connections.closeAll()
        // A message being written finishes first: the pool's shutdown waits for it.
        try await fileIO.shutdownGracefully()
        try await eventLoopGroup.shutdownGracefully()
    }
}

/// true for the first claim only, from any thread: stop() may be called twice (a signal handler and a normal exit).
private final class StopOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false

    func claim() -> Bool {
        lock.withLock {
            defer { claimed = true }
            return !claimed
        }
    }
}
