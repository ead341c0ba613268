// The production guard's decision and every reason for it; any production signal wins.

public struct GuardReason: Sendable, Equatable, CustomStringConvertible {
    public enum Signal: String, Sendable {
        /// Says the host is production: refuses whatever else says.
        case production
        /// Says the host is non-production (staging).
        case staging
        /// Neither: recorded so `stagefix guard` shows every check it made.
        case neutral
        /// The machine also serves production (its address and port, or its host key, are a
        /// production host's; a production site lives there): raw commands refuse, and site commands
        /// rest on the site's own word alone.
        case productionMachine = "production-machine"
    }

    public var signal: Signal
    /// Which evidence: `role`, `name`, `HostName`, `address`, `host key`, `site`, `identity`,
    /// `database marker`, `machine`, `database`.
    public var evidence: String

    /// Evidence the site itself gives (its env's identity keys, its settings, its database's marker):
    /// only this can make a host staging; names and roles can refuse, never allow on their own.
    public var isFromTheSite: Bool { evidence == "identity" || evidence == "database marker" }
    public var detail: String
    /// What to change to fix a refusal, when there is something to change.
    public var fix: String?

    public init(_ signal: Signal, _ evidence: String, _ detail: String, fix: String? = nil) {
        self.signal = signal
        self.evidence = evidence
        self.detail = detail
        self.fix = fix
    }

    public var description: String {
        var text = "\(evidence): \(detail)"
        if let fix { text += " (\(fix))" }
        return text
    }
}

public struct GuardVerdict: Sendable, Equatable {
    public var host: String
    public var reasons: [GuardReason]

    public init(host: String, reasons: [GuardReason]) {
        self.host = host
        self.reasons = reasons
    }

    /// Default deny: allowed only when its names or role say staging, the site itself says so (its
    /// identity, or its database's staging marker), and nothing says production.
    public var isAllowed: Bool { namesAllowConnecting && siteSaysStaging }

    /// Nothing refuses yet and the names or role say staging: worth connecting to hear the site.
    public var namesAllowConnecting: Bool {
        !isProduction && reasons.contains { $0.signal == .staging && !$0.isFromTheSite }
    }

    /// The site acted on says it is staging: an identity key naming the host, or a staging marker.
    public var siteSaysStaging: Bool { reasons.contains { $0.signal == .staging && $0.isFromTheSite } }

    /// Names allow it, but the site's env said nothing either way: its Django (settings'
    /// ALLOWED_HOSTS) or its database's marker may still confirm it.
    public var awaitsSiteConfirmation: Bool {
        namesAllowConnecting && !siteSaysStaging && !reasons.contains { $0.evidence == "identity" && $0.signal == .production }
    }

    public var isProduction: Bool { reasons.contains { $0.signal == .production } }

    /// The lines a refusal prints: every production signal, or why nothing says staging.
    public var refusalReasons: [String] { refusalReasons(for: .site) }

    public func refusalReasons(for scope: GuardScope) -> [String] {
        let machine = reasons.filter { $0.signal == .productionMachine }.map(\.description)
        let production = reasons.filter { $0.signal == .production }
        if !production.isEmpty { return production.map(\.description) + machine }
        if scope == .markingStaging && awaitsSiteConfirmation {
            return machine + ["the site on \(host) names no identity and its machine serves production, so its database cannot be marked staging: "
                + "set SITENAME=\(host) in the site's env file (or list the key it uses under guard.identity_keys)"]
        }
        if scope == .machine && isAllowed {
            if !machine.isEmpty {
                return machine + ["raw commands never run on a machine that serves production; the site-scoped commands (session create, db flush, env set, manage) still work on \(host)"]
            }
            return ["a raw command needs the site's own identity: set SITENAME=\(host) in its env file (or list the key it uses under guard.identity_keys); a database marker cannot vouch for a shell"]
        }
        if !namesAllowConnecting {
            return [
                "\(host) is not known to be staging: no role in stagefix.yml and no allow pattern matches its names "
                    + "(to mark it, add to stagefix.yml under hosts:  \(host): { role: staging })"
            ]
        }
        let said = reasons.filter { $0.evidence == "identity" || $0.evidence == "database marker" }.map(\.description)
        return machine + [
            "the site on \(host) does not say it is staging: "
                + (said.isEmpty ? "it gave no identity" : said.joined(separator: "; "))
                + " (set SITENAME=\(host) in the site's env file, list the key it uses under guard.identity_keys in stagefix.yml, "
                + "or run `stagefix db mark \(host) staging`)"
        ]
    }

    /// Raw commands (`exec`, `mail serve --via`) reach every site under the login user: they need the
    /// site's own identity (a marker cannot vouch for a shell) and a machine that serves no production.
    public func allows(_ scope: GuardScope) -> Bool {
        switch scope {
        case .site:
            return isAllowed
        case .machine:
            return isAllowed && !servesProduction && reasons.contains { $0.signal == .staging && $0.evidence == "identity" }
        case .markingStaging:
            // The mark must not vouch for itself: the site's identity, or else a machine that serves
            // no production at all (the runner then refuses a database whose name or path is production's).
            return namesAllowConnecting && (siteSaysStaging || (awaitsSiteConfirmation && !servesProduction))
        }
    }

    public var servesProduction: Bool { reasons.contains { $0.signal == .productionMachine } }

    /// Adds the reasons of a later phase (host key, identity).
    public func adding(_ more: [GuardReason]) -> GuardVerdict {
        GuardVerdict(host: host, reasons: reasons + more)
    }

    public func refusal(for scope: GuardScope = .site) -> StagefixError {
        .refusedByGuard(refusalReasons(for: scope))
    }
}

/// What a command reaches: one site (its folder, env and database), the whole machine (a shell), or
/// the evidence that `db mark HOST staging` writes (which must not rest on itself).
public enum GuardScope: Sendable {
    case site, machine, markingStaging
}
