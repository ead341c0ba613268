// What a command asks of the connector: which host, which ssh_config, how long, how to trace.
import SSH

public struct ConnectionRequest: Sendable {
    /// The HOST argument: an alias, a name, or user@host:port.
    public var destination: String
    /// `-F FILE`; nil means ~/.ssh/config then /etc/ssh/ssh_config.
    public var sshConfigPath: String?
    public var timeout: Double
    public var trace: (@Sendable (String) -> Void)?
    public var passphrase: PassphraseProvider

    public init(
        destination: String, sshConfigPath: String? = nil, timeout: Double = 30,
        trace: (@Sendable (String) -> Void)? = nil, passphrase: @escaping PassphraseProvider = { _ in nil }
    ) {
        self.destination = destination
        self.sshConfigPath = sshConfigPath
        self.timeout = timeout
        self.trace = trace
        self.passphrase = passphrase
    }
}
