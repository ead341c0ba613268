// How ssh_config says a host is reached: directly, through jump hosts (ProxyJump), or a local command (ProxyCommand).

/// One `ProxyJump` element: `host`, `user@host:port`, `[v6]:port` or `ssh://user@host:port`.
public struct JumpHost: Sendable, Equatable, CustomStringConvertible {
    public var user: String?
    public var host: String
    public var port: Int?

    public init(user: String? = nil, host: String, port: Int? = nil) {
        self.user = user
        self.host = host
        self.port = port
    }

    /// Throws `DestinationError` for what cannot be a jump host.
    public init(parsing text: String) throws {
        var rest = Substring(text)
        if rest.hasPrefix("ssh://") {
            rest = rest.dropFirst("ssh://".count)
            if rest.hasSuffix("/") { rest = rest.dropLast() }
        }
        let destination = try Destination(parsing: String(rest))
        self.init(user: destination.user, host: destination.host, port: destination.port)
    }

    /// As `ssh -G` prints a jump host: a numeric host in brackets, `:port` only when one was given.
    public var description: String {
        let numeric = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        var text = user.map { "\($0)@" } ?? ""
        text += numeric ? "[\(host)]" : host
        if let port { text += ":\(port)" }
        return text
    }
}

public enum ProxySetting: Sendable, Equatable {
    /// A TCP connection of our own (no ProxyJump/ProxyCommand, or `none`).
    case direct
    /// Through these hosts, first hop first (`ProxyJump a,b`: a, then b, then the target).
    case jump([JumpHost])
    /// The command as written; `%h %p %r %n %%` are expanded when it is started.
    case command(String)
}
