// stagefix.yml: per-host site layout, cookie settings, roles and guard rules; errors say file:line:column.
import Foundation
import SSH
import Yams

public struct HostSettings: Sendable, Equatable {
    public var role: HostRole?
    public var site: SiteLayout
    public var cookie: SessionCookieSettings
    /// The `session:` keys stagefix.yml sets: they win over the server's own cookie settings.
    public var explicitCookieKeys: Set<String> = []
    /// Where the site's mail lands (`maildir:PATH` or `django-files:PATH`), for `stagefix mail`.
    public var mailSource: String?
    /// The site's web address (`site.url`), when browsers open it by another name than ssh reaches it by.
    public var siteURL: SiteURL?

    /// The host a session cookie is for when the server sets no SESSION_COOKIE_DOMAIN and stagefix.yml
    /// no `cookie_domain`: `site.url`'s host, else the name ssh was given.
    public func cookieHost(sshName: String) -> String {
        siteURL?.host ?? sshName
    }
}

public struct StagefixConfig: Sendable {
    /// Where it was read from; nil when there was no file (all defaults).
    public var path: String?
    public var guardRules = GuardRules()
    public var auditLogPath: String?
    private var defaultSite: [String: String] = [:]
    private var defaultSession: [String: String] = [:]
    private var defaultMail: String?
    private var hosts: [(name: String, role: HostRole?, site: [String: String], session: [String: String], mail: String?)] = []

    public init() {}

    /// `-c FILE`, else `stagefix.yml` in `searchFrom` or its nearest parent, else defaults.
    public static func load(explicitPath: String?, searchFrom: String) throws -> StagefixConfig {
        try StagefixConfig(file: StagefixConfigFile.find(explicitPath: explicitPath, searchFrom: searchFrom))
    }

    /// The file's text; not UTF-8 is an error naming the first bad byte.
    static func text(of data: Data, path: String) throws -> String {
        if let text = String(validatingUTF8Bytes: Array(data)) { return text }
        let offset = UTF8Validation.firstInvalidOffset(Array(data)) ?? 0
        throw StagefixError.configuration("\(path) is not UTF-8 (byte offset \(offset) is 0x\(String(data[data.startIndex + offset], radix: 16))); save it as UTF-8")
    }

    public static func parse(yaml: String, path: String) throws -> StagefixConfig {
        var config = StagefixConfig()
        config.path = path
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw StagefixError.configuration("\(path): not valid YAML: \(error)")
        }
        guard let root else { return config }
        let reader = ConfigReader(path: path)
        let top = try reader.mapping(root, at: "the top level", allowed: ["defaults", "guard", "hosts", "audit_log"])
        if let defaults = top["defaults"] {
            let section = try reader.mapping(defaults, at: "defaults", allowed: ["site", "session", "mail"])
            if let mail = section["mail"] { config.defaultMail = try reader.mailSource(mail, at: "defaults.mail") }
            if let site = section["site"] { config.defaultSite = try reader.strings(site, at: "defaults.site", allowed: ConfigReader.siteKeys) }
            if let session = section["session"] { config.defaultSession = try reader.strings(session, at: "defaults.session", allowed: ConfigReader.sessionKeys) }
        }
        if let guardNode = top["guard"] {
            let section = try reader.mapping(guardNode, at: "guard", allowed: ["deny", "allow", "apex_domain", "identity_keys", "production_fingerprints", "require_db_marker"])
            if let deny = section["deny"] { config.guardRules.deny = try reader.list(deny, at: "guard.deny") }
            if let allow = section["allow"] { config.guardRules.allow = try reader.list(allow, at: "guard.allow") }
            if let apex = section["apex_domain"] { config.guardRules.apexDomain = try reader.scalar(apex, at: "guard.apex_domain") }
            if let keys = section["identity_keys"] { config.guardRules.identityKeys = try reader.list(keys, at: "guard.identity_keys") }
            if let pins = section["production_fingerprints"] { config.guardRules.productionFingerprints = try reader.list(pins, at: "guard.production_fingerprints") }
            if let node = section["require_db_marker"] {
                let text = try reader.scalar(node, at: "guard.require_db_marker")
                guard let value = ["true": true, "yes": true, "false": false, "no": false][text.lowercased()] else { throw reader.error(node, "guard.require_db_marker must be true or false") }
                config.guardRules.requireDatabaseMarker = value
            }
        }
        if let log = top["audit_log"] {
            let value = try reader.scalar(log, at: "audit_log")
            let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            config.auditLogPath = value.hasPrefix("~/") ? home + value.dropFirst(1) : value
        }
        if let hostsNode = top["hosts"] {
            guard case let .mapping(entries) = hostsNode else { throw reader.error(hostsNode, "hosts must be a mapping of host names") }
            for (keyNode, value) in entries {
                let name = try reader.scalar(keyNode, at: "hosts")
                let section = try reader.mapping(value, at: "hosts.\(name)", allowed: ["role", "site", "session", "mail"])
                var role: HostRole? = nil
                if let roleNode = section["role"] {
                    let text = try reader.scalar(roleNode, at: "hosts.\(name).role")
                    guard let parsed = HostRole(rawValue: text) else { throw reader.error(roleNode, "role '\(text)' is not staging or production") }
                    role = parsed
                }
                let site = try section["site"].map { try reader.strings($0, at: "hosts.\(name).site", allowed: ConfigReader.siteKeys) } ?? [:]
                let session = try section["session"].map { try reader.strings($0, at: "hosts.\(name).session", allowed: ConfigReader.sessionKeys) } ?? [:]
                let mail = try section["mail"].map { try reader.mailSource($0, at: "hosts.\(name).mail") }
                config.hosts.append((name, role, site, session, mail))
            }
        }
        // Values are checked now, not at first use: a bad config never gets half-way.
        _ = try config.hostSettings(validating: "defaults.invalid")
        for host in config.hosts { _ = try config.hostSettings(validating: host.name) }
        return config
    }

    /// Exact name first, then the first matching pattern in file order.
    private func entry(for host: String) -> (name: String, role: HostRole?, site: [String: String], session: [String: String], mail: String?)? {
        hosts.first(where: { $0.name.lowercased() == host.lowercased() }) ?? hosts.first(where: { HostPattern($0.name).matches(host) })
    }

    public func hostSettings(for host: String) -> HostSettings {
        (try? hostSettings(validating: host)) ?? HostSettings(role: nil, site: .defaults(for: host), cookie: SessionCookieSettings())
    }

    private func hostSettings(validating host: String) throws -> HostSettings {
        let match = entry(for: host)
        let site = defaultSite.merging(match?.site ?? [:]) { $1 }
        let session = defaultSession.merging(match?.session ?? [:]) { $1 }
        var layout = SiteLayout.defaults(for: host)
        if let path = site["path"] { layout.projectPath = path.replacingOccurrences(of: "{host}", with: host) }
        if let python = site["python"] { layout.python = python }
        if let manage = site["manage"] { layout.manage = manage }
        if let envFile = site["env_file"] { layout.envFile = envFile.lowercased() == "none" ? nil : envFile }
        if let prefix = site["command_prefix"] { layout.commandPrefix = prefix.split(separator: " ").map(String.init) }
        var cookie = SessionCookieSettings()
        if let name = session["cookie_name"] { cookie.name = name }
        if let domain = session["cookie_domain"] { cookie.domain = domain }
        if let path = session["cookie_path"] { cookie.path = path }
        if let secure = session["cookie_secure"] { cookie.secure = try Self.bool(secure, "cookie_secure") }
        if let httpOnly = session["cookie_httponly"] { cookie.httpOnly = try Self.bool(httpOnly, "cookie_httponly") }
        if let sameSite = session["cookie_samesite"] {
            guard ["Lax", "Strict", "None"].contains(sameSite) else { throw StagefixError.configuration("\(path ?? "stagefix.yml"): cookie_samesite '\(sameSite)' is not Lax, Strict or None") }
            cookie.sameSite = sameSite
        }
        let mail = (match?.mail ?? defaultMail)?.replacingOccurrences(of: "{host}", with: host)
        var siteURL: SiteURL? = nil
        if let url = site["url"] {
            do { siteURL = try SiteURL(url.replacingOccurrences(of: "{host}", with: host)) } catch let StagefixError.configuration(message) {
                throw StagefixError.configuration("\(path ?? "stagefix.yml"): \(message)")
            }
        }
        return HostSettings(role: match?.role, site: layout, cookie: cookie, explicitCookieKeys: Set(session.keys), mailSource: mail, siteURL: siteURL)
    }

    private static func bool(_ text: String, _ key: String) throws -> Bool {
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw StagefixError.configuration("stagefix.yml: \(key) '\(text)' is not true or false")
        }
    }

    public var productionHostNames: [String] { hosts.filter { $0.role == .production }.map(\.name) }
}

/// Everything known about production before connecting: hosts declared in stagefix.yml, and those the
/// user already reaches whose names match the deny patterns (ssh_config `Host` lines, known_hosts);
/// where they are (address and port) and what they are (host keys), and their site folders.
public struct ProductionHosts: Sendable {
    public var names: [String] = []
    public var endpoints: [(name: String, addresses: [String], port: Int)] = []
    /// Host key fingerprint → whose it is.
    public var keys: [String: String] = [:]
    public var sitePaths: [(host: String, path: String)] = []

    /// Gathers them; `sshConfig` is the one the connection resolves with, `knownHostsFiles` the files
    /// it trusts (names written there in clear are hosts this user has reached).
    public static func gather(config: StagefixConfig, sshConfig: SSHConfig, knownHostsFiles: [String], localUser: String, homeDirectory: String) -> ProductionHosts {
        var hosts = ProductionHosts()
        let rules = config.guardRules
        for pin in rules.productionFingerprints { hosts.keys[pin] = "a production host (guard.production_fingerprints)" }
        var names = config.productionHostNames
        for name in sshConfig.literalHostNames + KnownHostsNames.names(in: knownHostsFiles)
        where ProductionGuard.isProductionName(name, productionHostNames: [], rules: rules) && !names.contains(where: { $0.lowercased() == name.lowercased() }) {
            names.append(name)
        }
        hosts.names = names
        for name in names {
            hosts.sitePaths.append((name, config.hostSettings(for: name).site.projectPath))
            guard let resolved = try? sshConfig.resolve(host: name, localUser: localUser, homeDirectory: homeDirectory) else { continue }
            hosts.endpoints.append((name, plannedAddresses(resolved, includingName: true), resolved.port))
            let endpoint = HostKeyEndpoint(hostName: resolved.hostKeyAlias ?? resolved.hostName, port: resolved.port, address: "")
            for key in KnownHostsLookup.keys(for: endpoint, in: resolved.userKnownHostsFiles + resolved.globalKnownHostsFiles) where hosts.keys[key.fingerprint] == nil {
                hosts.keys[key.fingerprint] = "the production host \(name)"
            }
        }
        return hosts
    }

    /// Where a connection to the host goes, as evidence to compare: its addresses here, and its HostName
    /// as written when a jump host or proxy command is asked to reach it (the name may resolve only
    /// there) or when `includingName` (production's side: any way of naming it counts).
    public static func plannedAddresses(_ resolved: ResolvedSSHHost, includingName: Bool = false) -> [String] {
        var addresses = (try? TCPAddresses.resolve(resolved.hostName, port: resolved.port, family: resolved.addressFamily)) ?? []
        let name = resolved.hostName.lowercased()
        if (includingName || resolved.proxy != .direct) && !addresses.contains(name) { addresses.insert(name, at: 0) }
        return addresses
    }
}

/// Reads YAML nodes with positions for every error.
struct ConfigReader {
    let path: String
    static let siteKeys: Set<String> = ["path", "python", "manage", "env_file", "command_prefix", "url"]
    static let sessionKeys: Set<String> = ["cookie_name", "cookie_domain", "cookie_path", "cookie_secure", "cookie_httponly", "cookie_samesite"]

    func error(_ node: Node, _ message: String) -> StagefixError {
        let position = node.mark.map { "\($0.line):\($0.column)" } ?? "?"
        return .configuration("\(path):\(position): \(message)")
    }

    func mapping(_ node: Node, at where_: String, allowed: Set<String>) throws -> [String: Node] {
        guard case let .mapping(entries) = node else { throw error(node, "\(where_) must be a mapping with keys \(allowed.sorted().joined(separator: ", "))") }
        var result: [String: Node] = [:]
        for (key, value) in entries {
            let name = try scalar(key, at: where_)
            guard allowed.contains(name) else {
                throw error(key, "unknown key '\(name)' under \(where_); expected one of: \(allowed.sorted().joined(separator: ", "))")
            }
            result[name] = value
        }
        return result
    }

    func scalar(_ node: Node, at where_: String) throws -> String {
        guard case let .scalar(scalar) = node else { throw error(node, "\(where_) must be a single value") }
        return scalar.string
    }

    func mailSource(_ node: Node, at where_: String) throws -> String {
        let text = try scalar(node, at: where_)
        guard (try? MailSource(parsing: text)) != nil else { throw error(node, "\(where_) `\(text)` is not maildir:PATH or django-files:PATH") }
        return text
    }

    func list(_ node: Node, at where_: String) throws -> [String] {
        guard case let .sequence(items) = node else { throw error(node, "\(where_) must be a list") }
        return try items.map { try scalar($0, at: where_) }
    }

    func strings(_ node: Node, at where_: String, allowed: Set<String>) throws -> [String: String] {
        try mapping(node, at: where_, allowed: allowed).mapValues { try scalar($0, at: where_) }
    }
}
