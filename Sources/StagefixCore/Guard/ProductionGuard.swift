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

    /// Globs (lowercase) a production name matches, for the runner's check of the database it writes.
    public func productionPatterns(productionHostNames: [String]) -> [String] {
        var patterns = deny.map { $0.lowercased() }
        if let apex = apexDomain?.lowercased() { patterns += [apex, "www." + apex] }
        return patterns + productionHostNames.map { $0.lowercased() }
    }

    public static let defaultDeny = ["www.*", "*prod*", "*production*", "*live*"]
    public static let defaultAllow = ["*staging*", "*stage*", "localhost"]

    /// How real sites name themselves: the book's 2nd edition `SITENAME`, its 3rd edition
    /// `DJANGO_ALLOWED_HOST`, and the ALLOWED_HOSTS lists many env files carry.
    public static let defaultIdentityKeys = ["SITENAME", "DJANGO_ALLOWED_HOST", "DJANGO_ALLOWED_HOSTS", "ALLOWED_HOSTS"]

    public init(deny: [String] = GuardRules.defaultDeny, allow: [String] = GuardRules.defaultAllow, apexDomain: String? = nil, identityKeys: [String] = GuardRules.defaultIdentityKeys, productionFingerprints: [String] = []) {
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

/// A site folder found next to the one acted on, and the identity keys its env file holds.
public struct HostedSite: Sendable, Equatable {
    public var name: String
    public var identity: [(key: String, value: String)]

    public init(name: String, identity: [(key: String, value: String)] = []) {
        self.name = name
        self.identity = identity
    }

    public static func == (a: HostedSite, b: HostedSite) -> Bool {
        a.name == b.name && a.identity.map { "\($0.key)=\($0.value)" } == b.identity.map { "\($0.key)=\($0.value)" }
    }
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
                return [GuardReason(.productionMachine, "address", "\(shared) port \(port) is where the production host \(endpoint.name) is")]
            }
        }
        let shown = targetAddresses.isEmpty ? "no address" : targetAddresses.joined(separator: ", ")
        let known = productionEndpoints.isEmpty ? "no production host is known" : "no known production host is there"
        return [GuardReason(.neutral, "address", "\(shown) port \(port): \(known)")]
    }

    /// What it really is: its host key must not be a production host's.
    public static func hostKeyReasons(fingerprint: String, productionKeys: [String: String]) -> [GuardReason] {
        if let owner = productionKeys[fingerprint] {
            return [GuardReason(.productionMachine, "host key", "the server's key \(fingerprint) is the key of \(owner)")]
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

    /// Which site it will act on, before connecting: a folder named like production, a production
    /// host's own site folder, or an env file kept outside the folder (its identity would not be the
    /// site's) refuses.
    public static func siteReasons(layout: SiteLayout, productionSitePaths: [(host: String, path: String)], productionHostNames: [String], rules: GuardRules) -> [GuardReason] {
        var reasons: [GuardReason] = []
        let folder = RemotePath.normalized(layout.projectPath)
        let folderName = RemotePath.lastComponent(folder)
        if isProductionName(folderName, productionHostNames: productionHostNames, rules: rules) {
            reasons.append(GuardReason(.production, "site", "the site folder \(layout.projectPath) is named like a production site",
                fix: "point site.path in stagefix.yml at the staging site's folder"))
        }
        if let production = productionSitePaths.first(where: { RemotePath.normalized($0.path) == folder }) {
            reasons.append(GuardReason(.production, "site", "the site folder \(layout.projectPath) is the folder of the production host \(production.host)",
                fix: "point site.path in stagefix.yml at the staging site's folder"))
        }
        if let envFile = layout.envFilePath, !RemotePath.isInside(RemotePath.normalized(envFile), folder: folder) {
            reasons.append(GuardReason(.production, "site", "the env file \(envFile) lies outside the site folder \(layout.projectPath), so it cannot say which site this is",
                fix: "keep site.env_file inside the site's folder, or set site.env_file: none"))
        }
        return reasons
    }

    /// What the whole machine hosts, for raw commands (a shell reaches every site under its user):
    /// a production-named site folder, or a site whose env names a production host, refuses.
    public static func machineReasons(sites: [HostedSite], folder: String, productionHostNames: [String], rules: GuardRules) -> [GuardReason] {
        var reasons: [GuardReason] = []
        for site in sites.sorted(by: { $0.name < $1.name }) {
            if isProductionName(site.name, productionHostNames: productionHostNames, rules: rules) {
                reasons.append(GuardReason(.productionMachine, "machine", "the machine hosts \(folder)/\(site.name), a production site",
                    fix: "raw commands (exec, mail serve --via) never run on a machine that serves production; use the site-scoped commands"))
                continue
            }
            for (key, value) in site.identity {
                let names = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map { $0.trimmingWhitespace() }
                if let production = names.first(where: { isProductionName($0, productionHostNames: productionHostNames, rules: rules) }) {
                    reasons.append(GuardReason(.productionMachine, "machine", "the machine hosts \(folder)/\(site.name), whose \(key) names the production host \(production)",
                        fix: "raw commands (exec, mail serve --via) never run on a machine that serves production; use the site-scoped commands"))
                    break
                }
            }
        }
        if reasons.isEmpty {
            reasons.append(GuardReason(.neutral, "machine", sites.isEmpty ? "\(folder) holds no other sites" : "\(folder) holds no production site (\(sites.map(\.name).sorted().joined(separator: ", ")))"))
        }
        return reasons
    }

    /// The database a site's settings name (`NAME on HOST`), as the runner describes it: a name or
    /// path naming production refuses (a staging site pointed at production's database).
    public static func databaseReasons(description: String, productionHostNames: [String], rules: GuardRules) -> [GuardReason] {
        let words = description.split(whereSeparator: { $0 == "/" || $0 == " " || $0 == "@" || $0 == ":" }).map(String.init)
        if let word = words.first(where: { $0 != "on" && isProductionName($0, productionHostNames: productionHostNames, rules: rules) }) {
            return [GuardReason(.production, "database", "the site's database \(description) names \(word), a production host",
                fix: "point the staging site's database settings at the staging database")]
        }
        return [GuardReason(.neutral, "database", "the site's database \(description) names no production host")]
    }

    static func isAddressLiteral(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return (parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }) || name.contains(":")
    }

    public static func isProductionName(_ name: String, productionHostNames: [String], rules: GuardRules) -> Bool {
        productionHostNames.contains(where: { $0.lowercased() == name.lowercased() })
            || rules.deny.contains(where: { HostPattern($0).matches(name) })
            || rules.apexDomain.map({ name.lowercased() == $0.lowercased() || name.lowercased() == "www." + $0.lowercased() }) == true
    }

    /// What it says it is: identity keys in its env must name this host and no production host.
    /// `siteName` is the host of the site's `site.url` in stagefix.yml (an alias's web name): naming it
    /// names the host asked for.
    public static func identityReasons(identity: [(key: String, value: String)], typedHost: String, sshHostName: String, siteName: String? = nil, productionHostNames: [String], rules: GuardRules) -> [GuardReason] {
        guard !identity.isEmpty else {
            return [GuardReason(.neutral, "identity", "the site's env names no identity (\(rules.identityKeys.joined(separator: ", ")) unset)")]
        }
        var reasons: [GuardReason] = []
        // The name asked for, and the ssh_config HostName when it is a name: an address a site answers
        // on (every site of a machine may list it) says nothing about which site this is.
        let askedFor = Set([typedHost.lowercased()] + (isAddressLiteral(sshHostName) ? [] : [sshHostName.lowercased()])
            + (siteName.map { isAddressLiteral($0) ? [] : [$0.lowercased()] } ?? []))
        for (key, value) in identity {
            let names = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            for name in names {
                if isProductionName(name, productionHostNames: productionHostNames, rules: rules) {
                    reasons.append(GuardReason(.production, "identity", "the server's \(key) names \(name), a production host"))
                }
            }
            // Only a name spelled out says which site this is; `*` and `.example.com` (ALLOWED_HOSTS
            // wildcards) cover the host without naming it, so they neither refuse nor vouch.
            // Addresses (`127.0.0.1`, the machine's own) and `localhost` say nothing about which site this
            // is either, unless that is what was asked for (`stagefix ... 10.0.0.9` with a role for it).
            let lowered = names.map { $0.lowercased() }.filter { askedFor.contains($0) || (!isAddressLiteral($0) && $0 != "localhost") }
            let namesAskedHost = lowered.contains { askedFor.contains($0) }
            let coversAskedHost = lowered.contains { name in
                name == "*" || (name.hasPrefix(".") && askedFor.contains { $0 == name.dropFirst() || $0.hasSuffix(name) })
            }
            if namesAskedHost {
                if !reasons.contains(where: { $0.evidence == "identity" && $0.signal == .production }) {
                    reasons.append(GuardReason(.staging, "identity", "the site's \(key) names \(typedHost)"))
                }
            } else if coversAskedHost {
                reasons.append(GuardReason(.neutral, "identity", "the site's \(key)=\(value) covers \(typedHost) only by a wildcard, which does not say which site this is"))
            } else if lowered.isEmpty {
                reasons.append(GuardReason(.neutral, "identity", "the site's \(key)=\(value) names no host, only addresses or localhost"))
            } else {
                reasons.append(GuardReason(.production, "identity", "the server's \(key)=\(value) says it is another host than \(typedHost)",
                    fix: "check that \(typedHost) points at the right machine, or fix \(key) in its env file; if \(typedHost) is an alias of the site, give the site's address as site.url for it in stagefix.yml"))
            }
        }
        return reasons
    }
}
