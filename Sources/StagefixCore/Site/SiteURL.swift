// The site's web address (stagefix.yml `site.url`) when the name ssh reaches the server by is not the
// name browsers open the site by (an ssh_config alias, a bastion): cookies and http_get paths use it.
import Foundation

public struct SiteURL: Sendable, Equatable {
    /// Scheme, host, port and path, without a trailing slash (`https://staging.example.com:8443/app`).
    public let base: String
    /// The host name (or address) browsers open: a cookie's domain.
    public let host: String

    /// An absolute http(s) URL with a host (and a path for a site below one); a query, fragment or user name refused.
    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = components.host, !host.isEmpty
        else { throw StagefixError.configuration("site.url `\(TerminalText.escaped(text))` is not an http(s) URL with a host name (e.g. https://staging.example.com/)") }
        guard components.query == nil, components.fragment == nil, components.user == nil, components.password == nil else {
            throw StagefixError.configuration("site.url `\(TerminalText.escaped(text))` has a query, fragment or user name; give the site's address only")
        }
        guard host.unicodeScalars.allSatisfy({ !TerminalText.isControl($0) && !" \t;,\"\\/".unicodeScalars.contains($0) }) else {
            throw StagefixError.configuration("site.url `\(TerminalText.escaped(text))` has a host that cannot be a cookie's domain")
        }
        self.host = host.lowercased()
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        self.base = "\(scheme)://\(components.percentEncodedHost ?? host)" + (components.port.map { ":\($0)" } ?? "") + path
    }

    /// A path (`/whoami/`) on this site; anything else is returned as it is.
    public func resolve(_ url: String) -> String {
        Self.isPath(url) ? base + url : url
    }

    /// `/whoami/`, not `//host/x` (a scheme-relative URL) nor a full URL.
    public static func isPath(_ url: String) -> Bool {
        url.hasPrefix("/") && !url.hasPrefix("//")
    }
}
