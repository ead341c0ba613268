// Gathers the guard's evidence phase by phase: names and role, address, host key, the server's identity.
import SSH

/// The guard's rules, from stagefix.yml (defaults when absent).
public struct GuardRules: Sendable, Equatable {
    public var deny: [String]
    public var allow: [String]
    /// The production site's apex domain: it and `www.` under it are production.
    public var apexDomain: String?
    /// Env keys in which the server names itself (`SITENAME`, `ALLOWED_HOSTS`).
    public var identityKeys: [String]
    /// SHA256 fingerprints of production host keys, pinned in the config.
    public var productionFingerprints: [String]
    /// Refuse destructive steps on a database that carries no environment marker (`stagefix db mark`).
    public var requireDatabaseMarker = false

    public static let defaultDeny = ["www.*", "*prod*", "*production*", "*live*"]
    public static let defaultAllow = ["*staging*", "*stage*", "localhost"]

    public init(deny: [String] = GuardRules.defaultDeny, allow: [String] = GuardRules.defaultAllow, apexDomain: String? = nil, identityKeys: [String] = ["SITENAME"], productionFingerprints: [String] = []) {
        self.deny = deny
        self.allow = allow
        self.apexDomain = apexDomain
        self.identityKeys = identityKeys
        self.productionFingerprints = productionFingerprints
    }
}

public enum HostRole: String, Sendable, Equatable {
    case staging, production
}

/// Pure decisions: every function takes values and returns reasons.
public enum ProductionGuard {
    /// Names and declared role: the name typed, and the ssh_config HostName it resolves to.
    public static func nameReasons(typedHost: String, sshHostName: String, role: HostRole?, productionHostNames: [String], rules: GuardRules) -> [GuardReason] {
        var reasons: [GuardReason] = []
        switch role {
        case .production?:
            reasons.append(GuardReason(.production, "role", "stagefix.yml declares \(typedHost) role: production"))
        case .staging?:
            reasons.append(GuardReason(.staging, "role", "stagefix.yml declares \(typedHost) role: staging"))
        case nil:
            reasons.append(GuardReason(.neutral, "role", "stagefix.yml declares no role for \(typedHost)"))
        }
        var names = [typedHost]
        if sshHostName.lowercased() != typedHost.lowercased() { names.append(sshHostName) }
        for name in names {
            let label = name == typedHost ? "name" : "HostName"
            if let production = productionHostNames.first(where: { $0.lowercased() == name.lowercased() }), name != typedHost || role != .production {
                reasons.append(GuardReason(.production, label, "\(name) is listed in stagefix.yml as the production host \(production)"))
            }
            if let pattern = rules.deny.first(where: { HostPattern($0).matches(name) }) {
                reasons.append(GuardReason(.production, label, "\(name) matches the deny pattern '\(pattern)'",
                    fix: "if it really is staging, rename it or change guard.deny in stagefix.yml"))
            } else if let apex = rules.apexDomain?.lowercased(), name.lowercased() == apex || name.lowercased() == "www." + apex {
                reasons.append(GuardReason(.production, label, "\(name) is the production apex domain \(apex)"))
            } else if let pattern = rules.allow.first(where: { HostPattern($0).matches(name) }) {
                reasons.append(GuardReason(.staging, label, "\(name) matches the allow pattern '\(pattern)'"))
            } else {
                reasons.append(GuardReason(.neutral, label, "\(name) matches no allow or deny pattern"))
            }
        }
        return reasons
    }

    /// Where it really connects: the target's addresses must not be a production host's (same port).
    public static func addressReasons(targetAddresses: [String], port: Int, productionEndpoints: [(name: String, addresses: [String], port: Int)]) -> [GuardReason] {
        for endpoint in productionEndpoints where endpoint.port == port {
            if let shared = targetAddresses.first(where: { endpoint.addresses.contains($0) }) {
                return [GuardReason(.production, "address", "\(shared) port \(port) is where the production host \(endpoint.name) is",
                    fix: "point this host's HostName elsewhere")]
            }
        }
        let shown = targetAddresses.isEmpty ? "no address" : targetAddresses.joined(separator: ", ")
        return [GuardReason(.neutral, "address", "\(shown) port \(port) is no production host's address")]
    }

    /// What it really is: its host key must not be a production host's.
    public static func hostKeyReasons(fingerprint: String, productionKeys: [String: String]) -> [GuardReason] {
        if let owner = productionKeys[fingerprint] {
            return [GuardReason(.production, "host key", "the server's key \(fingerprint) is the key of \(owner)")]
        }
        return [GuardReason(.neutral, "host key", "\(fingerprint) is no production host's key")]
    }

    /// What it hosts, when the site asked for has no env file: a server that hosts a production-named
    /// site (`~/sites/www.example.com`) is a production server, whatever name it was reached by.
    public static func hostedSiteReasons(siteNames: [String], folder: String, productionHostNames: [String], rules: GuardRules) -> [GuardReason] {
        var reasons: [GuardReason] = []
        for name in siteNames.sorted() where isProductionName(name, productionHostNames: productionHostNames, rules: rules) {
            reasons.append(GuardReason(.production, "identity", "the server hosts \(folder)/\(name), a production site",
                fix: "check that this host name points at the staging machine"))
        }
        if reasons.isEmpty {
            reasons.append(GuardReason(.neutral, "identity", siteNames.isEmpty ? "\(folder) holds no sites" : "\(folder) holds no production site (\(siteNames.sorted().joined(separator: ", ")))"))
        }
        return reasons
    }

    static func isProductionName(_ name: String, productionHostNames: [String], rules: GuardRules) -> Bool {
        productionHostNames.contains(where: { $0.lowercased() == name.lowercased() })
            || rules.deny.contains(where: { HostPattern($0).matches(name) })
            || rules.apexDomain.map({ name.lowercased() == $0.lowercased() || name.lowercased() == "www." + $0.lowercased() }) == true
    }

    /// What it says it is: identity keys in its env must name this host and no production host.
    public static func identityReasons(identity: [(key: String, value: String)], typedHost: String, sshHostName: String, productionHostNames: [String], rules: GuardRules) -> [GuardReason] {
        guard !identity.isEmpty else {
            return [GuardReason(.neutral, "identity", "the server's env names no identity (\(rules.identityKeys.joined(separator: ", ")) unset)")]
        }
        var reasons: [GuardReason] = []
        let askedFor = Set([typedHost.lowercased(), sshHostName.lowercased()])
        for (key, value) in identity {
            let names = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            for name in names {
                if isProductionName(name, productionHostNames: productionHostNames, rules: rules) {
                    reasons.append(GuardReason(.production, "identity", "the server's \(key) names \(name), a production host"))
                }
            }
            // ALLOWED_HOSTS style entries count too: `*` and `.example.com` (the domain and its subdomains).
            let namesAskedHost = names.contains { name in
                let name = name.lowercased()
                return askedFor.contains(name) || name == "*"
                    || (name.hasPrefix(".") && askedFor.contains { $0 == name.dropFirst() || $0.hasSuffix(name) })
            }
            if !namesAskedHost {
                reasons.append(GuardReason(.production, "identity", "the server's \(key)=\(value) says it is another host than \(typedHost)",
                    fix: "check that \(typedHost) points at the right machine, or fix \(key) in its env file"))
            } else if !reasons.contains(where: { $0.evidence == "identity" && $0.signal == .production }) {
                reasons.append(GuardReason(.neutral, "identity", "the server's \(key) names \(typedHost)"))
            }
        }
        return reasons
    }
}
