// Glob patterns for host names (`*`, `?`), case-insensitive: the same matching ssh_config uses.
import SSH

public struct HostPattern: Sendable, Equatable {
    public let pattern: String

    public init(_ pattern: String) { self.pattern = pattern }

    public func matches(_ name: String) -> Bool {
        GlobPattern.matches(pattern, name)
    }
}
