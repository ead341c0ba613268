// The production guard's decision and every reason for it; any production signal wins.

public struct GuardReason: Sendable, Equatable, CustomStringConvertible {
    public enum Signal: String, Sendable {
        /// Says the host is production: refuses whatever else says.
        case production
        /// Says the host is non-production (staging).
        case staging
        /// Neither: recorded so `stagefix guard` shows every check it made.
        case neutral
    }

    public var signal: Signal
    /// Which evidence: `role`, `name`, `address`, `host key`, `identity`.
    public var evidence: String
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

    /// Default deny: allowed only with a staging signal and no production signal.
    public var isAllowed: Bool {
        !reasons.contains { $0.signal == .production } && reasons.contains { $0.signal == .staging }
    }

    public var isProduction: Bool { reasons.contains { $0.signal == .production } }

    /// The lines a refusal prints: every production signal, or why nothing says staging.
    public var refusalReasons: [String] {
        let production = reasons.filter { $0.signal == .production }
        if !production.isEmpty { return production.map(\.description) }
        return [
            "\(host) is not known to be staging: no role in stagefix.yml and no allow pattern matches its names "
                + "(to mark it, add to stagefix.yml under hosts:  \(host): { role: staging })"
        ]
    }

    /// Adds the reasons of a later phase (host key, identity).
    public func adding(_ more: [GuardReason]) -> GuardVerdict {
        GuardVerdict(host: host, reasons: reasons + more)
    }

    public func refusal() -> StagefixError {
        .refusedByGuard(refusalReasons)
    }
}
