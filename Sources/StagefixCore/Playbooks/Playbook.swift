// A playbook as written: name, default hosts, vars and steps, every string a template.

public struct Playbook: Sendable {
    public var path: String
    public var name: String
    public var description: String?
    /// Default targets when `--host` is not given.
    public var hosts: [Template]
    public var variables: [PlaybookVariable]
    public var steps: [PlaybookStep]

    /// Steps that change the host take the host lock; a read-only playbook (check, http_get) does not.
    public var changesHosts: Bool { steps.contains { $0.action.changesHost } }
}

public struct PlaybookVariable: Sendable {
    public enum Kind: String, Sendable { case string, list }

    public var name: String
    public var kind: Kind
    /// nil: required (`--var NAME=...` must give it).
    public var defaultValue: VariableValue?
    public var description: String?
    public var position: SourcePosition
}

public struct PlaybookStep: Sendable {
    /// 1-based, as shown to people.
    public var index: Int
    public var label: String?
    public var action: Action
    /// Name under which the step's outputs are kept (sessions for `http_get`, JSON for programs).
    public var register: String?
    public var position: SourcePosition

    public enum Action: Sendable {
        case flush
        case createSession(emails: [Template])
        /// `env_set` replaces; `env_ensure` (`onlyWhenMissing`) never touches a key that has a value.
        case envSet([EnvAssignment], onlyWhenMissing: Bool)
        case manage([Template])
        case exec(Template)
        case check
        case httpGet(HTTPCheck)
        /// Empty the site's mailbox (`mail reset`); later waits only see newer mail.
        case mailReset(source: Template?)
        case waitForEmail(EmailWait)

        public var kind: String {
            switch self {
            case .flush: return "flush"
            case .createSession: return "create_session"
            case .envSet(_, let onlyWhenMissing): return onlyWhenMissing ? "env_ensure" : "env_set"
            case .manage: return "manage"
            case .exec: return "exec"
            case .check: return "check"
            case .httpGet: return "http_get"
            case .mailReset: return "mail_reset"
            case .waitForEmail: return "wait_for_email"
            }
        }

        /// Done by the site's Django runner (which then also takes the fixture lock).
        public var usesDjangoRunner: Bool {
            switch self {
            case .flush, .createSession: return true
            default: return false
            }
        }

        public var changesHost: Bool {
            switch self {
            case .check, .httpGet: return false
            default: return true
            }
        }
    }

    public var displayName: String { label ?? action.kind }
}

public struct EnvAssignment: Sendable {
    public enum Source: Sendable {
        case value(Template)
        /// This machine's environment variable (the deployer's), e.g. `EMAIL_PASSWORD`.
        case fromLocal(String)
        /// A random secret, only when the key is missing.
        case generate
    }

    public var key: String
    public var source: Source
    public var position: SourcePosition
}

/// `wait_for_email`: the site's message to someone, after the last reset; registers its link.
public struct EmailWait: Sendable {
    public var to: Template
    public var subject: Template?
    public var subjectPattern: String?
    public var headers: [(name: String, value: Template)]
    /// A regular expression the registered link matches (default: the first link).
    public var link: String?
    public var source: Template?
    public var timeout: Double?
}

/// An HTTP GET against the site, from this machine: the smoke test a pipeline needs.
public struct HTTPCheck: Sendable {
    public var url: Template
    /// Instead of `url`: the link a `wait_for_email` step registered under this name.
    public var urlFrom: String?
    /// A name registered by an earlier `create_session`: its cookie is sent.
    public var session: String?
    /// Which of that registration's sessions (default: the first).
    public var email: Template?
    public var status: Int
    public var contains: [Template]
    public var headers: [(name: String, value: Template)]
}
