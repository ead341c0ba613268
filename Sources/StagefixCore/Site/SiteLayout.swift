// Where a Django site lives on its host and how its management commands are run.

public struct SiteLayout: Sendable, Equatable {
    /// The project folder, `~/sites/HOST` by default (`~` is the login user's home).
    public var projectPath: String
    /// The interpreter, relative to the project unless absolute.
    public var python: String
    /// `manage.py`, relative to the project unless absolute.
    public var manage: String
    /// The env file, relative to the project unless absolute; nil for sites whose env lives in a
    /// container or service (`env_file: none`).
    public var envFile: String?
    /// Replaces `PYTHON MANAGE` for containerised sites: `docker exec -i superlists python manage.py`.
    /// Split into words; each word is shell-quoted when the command is built.
    public var commandPrefix: [String]?

    public init(projectPath: String, python: String = ".venv/bin/python", manage: String = "manage.py", envFile: String? = ".env", commandPrefix: [String]? = nil) {
        self.projectPath = projectPath
        self.python = python
        self.manage = manage
        self.envFile = envFile
        self.commandPrefix = commandPrefix
    }

    /// The layout of the common deployment for `host` (CONTRACT.md).
    public static func defaults(for host: String) -> SiteLayout {
        SiteLayout(projectPath: "~/sites/\(host)")
    }

    /// `relative` resolved against the project folder.
    public func path(_ relative: String) -> String {
        if relative.hasPrefix("/") || relative.hasPrefix("~/") || relative == "~" { return relative }
        return projectPath + "/" + relative
    }

    public var pythonPath: String { path(python) }
    public var managePath: String { path(manage) }
    public var envFilePath: String? { envFile.map(path) }
}

/// How the session cookie is presented to browsers and curl (the server's settings, unless overridden).
public struct SessionCookieSettings: Sendable, Equatable {
    public var name: String
    /// nil: the host name the test visits.
    public var domain: String?
    public var path: String
    public var secure: Bool
    public var httpOnly: Bool
    /// `Lax`, `Strict`, `None`.
    public var sameSite: String
    /// Lifetime in seconds (Django's SESSION_COOKIE_AGE, two weeks by default).
    public var maxAge: Int

    public init(name: String = "sessionid", domain: String? = nil, path: String = "/", secure: Bool = false, httpOnly: Bool = true, sameSite: String = "Lax", maxAge: Int = 1_209_600) {
        self.name = name
        self.domain = domain
        self.path = path
        self.secure = secure
        self.httpOnly = httpOnly
        self.sameSite = sameSite
        self.maxAge = maxAge
    }
}
