// What an SSH session speaks over: a TCP socket of ours, a tunnel through a jump host, or a proxy command.

/// A connected stream socket libssh2 reads and writes, and what it reached. Closing it (deinit) ends
/// whatever carries it: the pump and jump sessions of a tunnel, the child of a proxy command.
protocol SessionSocket: AnyObject {
    var descriptor: Int32 { get }
    /// The numeric address connected to; through a jump host or a proxy command, the host it was
    /// asked to reach (as written in HostName), which is all this side can know.
    var address: String { get }
}

extension TCPConnection: SessionSocket {}

/// How the connection to a host is made; the next hop's options include how *it* is reached.
public indirect enum ConnectionRoute: Sendable {
    /// A TCP connection of our own.
    case direct
    /// A `direct-tcpip` channel of an SSH session to the jump host (ProxyJump).
    case jump(through: ConnectionOptions)
    /// A local command whose stdin and stdout carry the connection (ProxyCommand), `%` tokens expanded.
    case command(String)
}

extension ConnectionRoute {
    public var isDirect: Bool {
        if case .direct = self { return true }
        return false
    }

    /// A ProxyCommand with OpenSSH's tokens expanded: `%h` host, `%p` port, `%r` user, `%n` the name as
    /// typed, `%%` a percent sign.
    public static func proxyCommand(_ template: String, host: String, port: Int, user: String, originalHost: String) -> ConnectionRoute {
        .command(ProxyCommandProcess.expand(template, host: host, port: port, user: user, originalHost: originalHost))
    }
}

/// One jump host a session went through, for `check` and `-v`: who, where, and the key it proved.
public struct JumpRecord: Sendable, Equatable {
    public var user: String
    public var host: String
    public var port: Int
    /// The numeric address reached (or, for a hop reached through another, the host it was asked for).
    public var address: String
    public var hostKey: HostKey
}
