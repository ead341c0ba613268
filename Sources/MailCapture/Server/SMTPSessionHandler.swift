// The NIO side of one SMTP connection: bytes to lines to SMTPConversation, its replies back out, finished messages to the store.
import NIOCore

final class SMTPSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var conversation: SMTPConversation
    private var framer = LineFramer()
    private let store: MessageStore
    private var peer = "unknown"
    /// A message is being written: later input waits, so replies keep the order of the commands (pipelining).
    private var isStoring = false
    /// NIO asked for a read while storing; it is passed on once the message is stored.
    private var readHeldBack = false
    /// QUIT answered or the channel gone: no more input is handled.
    private var isFinished = false
    private var lastWrite: EventLoopFuture<Void>?
    /// Shared with the server's other connections (same event loop): the Maildir quota and memory bound.
    private let limits: CaptureLimits
    /// This connection's share of `limits.bufferedBytes`: the message it is receiving or storing.
    private var bufferedBytes = 0

    init(conversation: SMTPConversation, store: MessageStore, limits: CaptureLimits) {
        self.conversation = conversation
        self.store = store
        self.limits = limits
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = Self.describe(context.channel.remoteAddress)
        send(conversation.greeting, context: context)
        context.flush()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        handleInput(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A message still in DATA dies with the conversation: only a finished message is ever stored.
        isFinished = true
        if !isStoring { releaseBuffer() }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, !isFinished, !isStoring {
            refuseAndClose(.idleTooLong, context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        isFinished = true
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        isFinished = true
        context.close(promise: nil)
    }

    /// Back-pressure: while a message is being stored, no more bytes are read from the socket.
    func read(context: ChannelHandlerContext) {
        if isStoring {
            readHeldBack = true
        } else {
            context.read()
        }
    }

    /// Handles every whole line already received, in order, and sends their replies in one flush.
    private func handleInput(context: ChannelHandlerContext) {
        var quit = false
        while !isStoring, !isFinished, let piece = framer.nextPiece() {
            if conversation.isReceivingMessage {
                // Past the message size limit the reader keeps nothing, so nothing more is held.
                let held = min(piece.content.count + (piece.ending?.bytes.count ?? 0), max(conversation.limits.maxMessageBytes - bufferedBytes, 0))
                guard limits.reserveBuffer(held) else {
                    refuseAndClose(.memoryFull, context: context)
                    return
                }
                bufferedBytes += held
            }
            let outputs = conversation.receive(piece)
            if !conversation.isReceivingMessage, !outputs.contains(where: { if case .deliver = $0 { return true } else { return false } }) {
                releaseBuffer()  // the message ended without being stored (too large, or RSET)
            }
            for output in outputs {
                switch output {
                case .reply(let reply):
                    send(reply, context: context)
                case .deliver(let message):
                    startStoring(message, context: context)
                case .close:
                    quit = true
                    isFinished = true
                }
            }
        }
        context.flush()
        if quit {
            // Close only after the 221 is written, or the client would not see it.
            let closeNow = { context.close(promise: nil) }
            if let lastWrite {
                lastWrite.assumeIsolated().whenComplete { _ in closeNow() }
            } else {
                closeNow()
            }
        }
    }

    private func startStoring(_ message: CapturedMessage, context: ChannelHandlerContext) {
        guard limits.reserveStorage(message.content.count) else {
            releaseBuffer()
            send(.quotaFull, context: context)
            return
        }
        isStoring = true
        let onMessage = store.onMessage
        store.store(message, peer: peer, eventLoop: context.eventLoop).assumeIsolated().whenComplete { result in
            self.isStoring = false
            self.releaseBuffer()
            if case .failure = result { self.limits.releaseStorage(message.content.count) }
            if case .success(let stored) = result {
                onMessage(stored)
            }
            guard !self.isFinished else { return }
            switch result {
            case .success(let stored):
                self.send(.queued(as: stored.id), context: context)
            case .failure:
                self.send(.notStored, context: context)
            }
            // Commands pipelined behind the message waited in the framer; answer them now, then read on.
            self.handleInput(context: context)
            if self.readHeldBack {
                self.readHeldBack = false
                context.read()
            }
        }
    }

    private func releaseBuffer() {
        limits.releaseBuffer(bufferedBytes)
        bufferedBytes = 0
    }

    /// A limit was reached: one reply, then the connection closes (the client may retry later).
    private func refuseAndClose(_ reply: SMTPReply, context: ChannelHandlerContext) {
        isFinished = true
        releaseBuffer()
        send(reply, context: context)
        context.flush()
        lastWrite?.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func send(_ reply: SMTPReply, context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(string: reply.wireText)
        lastWrite = context.write(wrapOutboundOut(buffer))
    }

    /// `127.0.0.1:54321`, `[::1]:54321`: the form the X-Peer header shows.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        guard let ip = address.ipAddress, let port = address.port else { return address.description }
        if case .v6 = address {
            return "[\(ip)]:\(port)"
        }
        return "\(ip):\(port)"
    }
}
