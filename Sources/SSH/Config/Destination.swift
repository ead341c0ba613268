// Parses the HOST argument: `host`, `user@host`, `host:port`, `user@host:port`, `[v6]:port`.

public struct Destination: Sendable, Equatable {
    public var user: String?
    public var host: String
    public var port: Int?

    public init(user: String? = nil, host: String, port: Int? = nil) {
        self.user = user
        self.host = host
        self.port = port
    }

    /// Throws `SSHError.configuration` for what cannot be a destination (the CLI maps it to 64).
    public init(parsing text: String) throws {
        var rest = Substring(text)
        if let at = rest.lastIndex(of: "@") {
            let user = rest[..<at]
            guard !user.isEmpty else { throw DestinationError(text: text, reason: "the user before @ is empty") }
            self.user = String(user)
            rest = rest[rest.index(after: at)...]
        }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw DestinationError(text: text, reason: "missing ] after an IPv6 address") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty {
                port = nil
            } else if after.hasPrefix(":") {
                port = try Destination.port(after.dropFirst(), in: text)
            } else {
                throw DestinationError(text: text, reason: "unexpected text after ]")
            }
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            host = String(rest[..<colon])
            port = try Destination.port(rest[rest.index(after: colon)...], in: text)
        } else {
            // No colon, or a bare IPv6 address (several colons) without a port.
            host = String(rest)
            port = nil
        }
        guard !host.isEmpty else { throw DestinationError(text: text, reason: "the host name is empty") }
        guard !host.hasPrefix("-") else { throw DestinationError(text: text, reason: "a host name cannot start with -") }
        guard host.allSatisfy({ !$0.isWhitespace && $0 != "/" && $0 != "'" && $0 != "\"" }) else {
            throw DestinationError(text: text, reason: "a host name cannot contain spaces, quotes or /")
        }
    }

    private static func port(_ text: Substring, in whole: String) throws -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw DestinationError(text: whole, reason: "'\(text)' is not a port number (1-65535)")
        }
        return port
    }
}

public struct DestinationError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "'\(text)' is not a host: \(reason); use host, user@host or user@host:port" }
}
