// Opens a staging site for a destructive command, with the production guard enforced first:
// names and role before connecting, host key during the handshake, identity from the env file
// (read over SFTP) before any command channel is opened. No flag overrides a refusal.
import Foundation
import SSH

/// What the guard gathered and decided, and the connection it opened to hear the site.
public struct GuardEvaluation {
    public var verdict: GuardVerdict
    public var session: SSHSession?
    public var settings: HostSettings
    /// The host as typed.
    public var host: String
    /// The site, read-only so far (its env read for the identity).
    public var site: StagingSite?
    /// ssh_config's HostName for it.
    public var sshHostName: String
    public var production: ProductionHosts
}

public final class SiteConnection {
    public let site: StagingSite
    public let settings: HostSettings
    public let verdict: GuardVerdict
    /// The host as typed (what ssh was given).
    public let siteHost: String
    private let auditLog: AuditLog
    private let started = Stopwatch()
    private let production: ProductionHosts
    private let rules: GuardRules

    private init(site: StagingSite, settings: HostSettings, verdict: GuardVerdict, siteHost: String, auditLog: AuditLog, production: ProductionHosts, rules: GuardRules) {
        self.site = site
        self.settings = settings
        self.verdict = verdict
        self.siteHost = siteHost
        self.auditLog = auditLog
        self.production = production
        self.rules = rules
    }

    public func close() {
        site.closeRunner()
        site.session.disconnect()
    }

    /// The session cookie as the server sets it (stagefix.yml may override it).
    public var cookie: SessionCookieSettings { site.cookieSettings(settings) }

    /// The host a cookie without a domain belongs to: `site.url`'s, else the host as typed.
    public var cookieHost: String { settings.cookieHost(sshName: siteHost) }

    /// The guard's verdict for a host, gathering every kind of evidence; connects only for the host
    /// key and the identity read (read-only SFTP), and only when names did not already refuse it.
    /// `.machine` also looks at the other sites under the login user (a shell reaches them all).
    public static func evaluateGuard(_ request: ConnectionRequest, config: StagefixConfig, scope: GuardScope = .site) throws -> GuardEvaluation {
        let destination = (try? Destination(parsing: request.destination))?.host ?? request.destination
        let settings = config.hostSettings(for: destination)
        let rules = config.guardRules
        let layout = settings.site
        let (localUser, home) = HostConnector.localUserAndHome
        let sshConfig = try SSHConfig.load(explicitPath: request.sshConfigPath, homeDirectory: home)
        let (resolved, options) = try HostConnector.plan(request, sshConfig: sshConfig)
        let production = ProductionHosts.gather(
            config: config, sshConfig: sshConfig, knownHostsFiles: resolved.userKnownHostsFiles + resolved.globalKnownHostsFiles,
            localUser: localUser, homeDirectory: home)
        var evaluation = GuardEvaluation(
            verdict: GuardVerdict(host: destination, reasons: ProductionGuard.nameReasons(
                typedHost: destination, sshHostName: resolved.hostName, role: settings.role,
                productionHostNames: config.productionHostNames, rules: rules)),
            session: nil, settings: settings, host: destination, site: nil, sshHostName: resolved.hostName, production: production)
        // A web name in stagefix.yml is a name too: site.url may not point at production.
        if let webName = settings.siteURL?.host, ProductionGuard.isProductionName(webName, productionHostNames: production.names, rules: rules) {
            evaluation.verdict = evaluation.verdict.adding([GuardReason(.production, "name", "site.url names \(webName), a production host")])
        }
        evaluation.verdict = evaluation.verdict.adding(ProductionGuard.siteReasons(
            layout: layout, productionSitePaths: production.sitePaths.filter { $0.host.lowercased() != destination.lowercased() },
            productionHostNames: production.names, rules: rules))

        // Where it will connect, compared with where each production host is. Through a bastion that is
        // the target as the jump host is asked to reach it, never the bastion (which is not judged).
        let plannedAddresses = ProductionHosts.plannedAddresses(resolved)
        evaluation.verdict = evaluation.verdict.adding(ProductionGuard.addressReasons(targetAddresses: plannedAddresses, port: resolved.port, productionEndpoints: production.endpoints))
        // Later evidence can refuse, and only the site itself can vouch: without a staging name or
        // role, or with a refusal already, nothing is opened.
        if !evaluation.verdict.namesAllowConnecting { return evaluation }

        let session = try SSHSession.connect(options)
        evaluation.session = session
        // What it really is, and where the socket really went (a second lookup could differ).
        evaluation.verdict = evaluation.verdict.adding(ProductionGuard.hostKeyReasons(fingerprint: session.hostKey.fingerprint, productionKeys: production.keys))
        if !plannedAddresses.contains(session.address) {
            evaluation.verdict = evaluation.verdict.adding(ProductionGuard.addressReasons(targetAddresses: [session.address], port: resolved.port, productionEndpoints: production.endpoints))
        }

        // What the site says it is: identity keys in its env file, read over SFTP (no command runs).
        let probe = StagingSite(session: session, host: destination, layout: layout, timeout: request.timeout, trace: request.trace)
        probe.identityKeys = rules.identityKeys
        probe.requireDatabaseMarker = rules.requireDatabaseMarker
        probe.productionPatterns = rules.productionPatterns(productionHostNames: production.names)
        evaluation.site = probe
        if layout.envFilePath == nil {
            // A containerised site: its env lives in the container, so ask its own Django what it is
            // (the runner only loads settings and answers; nothing changes).
            evaluation.verdict = evaluation.verdict.adding(try settingsIdentityReasons(probe, evaluation: evaluation, rules: rules))
        } else {
            do {
                let environment = try probe.environment()
                let identity = Self.identity(of: environment, keys: rules.identityKeys)
                evaluation.verdict = evaluation.verdict.adding(ProductionGuard.identityReasons(identity: identity, typedHost: destination, sshHostName: resolved.hostName, siteName: settings.siteURL?.host, productionHostNames: production.names, rules: rules))
            } catch StagefixError.configuration(let message) where message.contains("does not exist") {
                evaluation.verdict = evaluation.verdict.adding([GuardReason(.neutral, "identity", "no env file at \(layout.envFilePath ?? "-") to read the site's identity from")])
                // Reached under a name it does not know itself by: what sites does it host? (read-only listing)
                let folder = PathText.deletingLastComponent(layout.projectPath)
                if !folder.isEmpty, let names = try SFTPClient(session: session, timeout: request.timeout).listDirectory(folder) {
                    evaluation.verdict = evaluation.verdict.adding(ProductionGuard.hostedSiteReasons(siteNames: names, folder: folder, productionHostNames: production.names, rules: rules))
                }
            }
        }
        if scope != .site && !evaluation.verdict.isProduction {
            evaluation.verdict = evaluation.verdict.adding(try machineReasons(evaluation, rules: rules, timeout: request.timeout))
        }
        return evaluation
    }

    /// The identity keys an env file sets; an empty value (`SITENAME=`) names nothing, like an unset one.
    static func identity(of environment: ServerEnvironment, keys: [String]) -> [(key: String, value: String)] {
        keys.compactMap { key in environment.value(for: key).flatMap { $0.trimmingWhitespace().isEmpty ? nil : (key: key, value: $0) } }
    }

    /// The identity a site's own Django gives (settings' ALLOWED_HOSTS, the env keys in its process).
    private static func settingsIdentityReasons(_ site: StagingSite, evaluation: GuardEvaluation, rules: GuardRules) throws -> [GuardReason] {
        let hello = try site.runner().hello()
        var identity = rules.identityKeys.compactMap { key in hello.identity[key].flatMap { $0.isEmpty ? nil : (key: key, value: $0) } }
        if let allowed = hello.identity["ALLOWED_HOSTS"], !allowed.isEmpty, !rules.identityKeys.contains("ALLOWED_HOSTS") {
            identity.append((key: "ALLOWED_HOSTS", value: allowed))
        }
        return ProductionGuard.identityReasons(identity: identity, typedHost: evaluation.host, sshHostName: evaluation.sshHostName, siteName: evaluation.settings.siteURL?.host, productionHostNames: evaluation.production.names, rules: rules)
    }

    /// The other sites under the login user (one listing, one small SFTP read per site's env file).
    private static func machineReasons(_ evaluation: GuardEvaluation, rules: GuardRules, timeout: Double) throws -> [GuardReason] {
        guard let session = evaluation.session else { return [] }
        let layout = evaluation.settings.site
        let folder = RemotePath.parent(layout.projectPath)
        let ownName = RemotePath.lastComponent(layout.projectPath)
        let sftp = try SFTPClient(session: session, timeout: timeout)
        let names = (try sftp.listDirectory(folder) ?? []).filter { $0 != ownName && !$0.hasPrefix(".") }
        let envName = layout.envFile.flatMap { $0.hasPrefix("/") || $0.hasPrefix("~") ? nil : $0 } ?? ".env"
        var sites: [HostedSite] = []
        for name in names.sorted().prefix(200) {
            var identity: [(key: String, value: String)] = []
            if let bytes = try? sftp.readFile(folder + "/" + name + "/" + envName, maxBytes: 1 << 20) {
                let environment = ServerEnvironment(path: name, text: String(decoding: bytes, as: UTF8.self))
                identity = Self.identity(of: environment, keys: rules.identityKeys)
            }
            sites.append(HostedSite(name: name, identity: identity))
        }
        return ProductionGuard.machineReasons(sites: sites, folder: folder, productionHostNames: evaluation.production.names, rules: rules)
    }

    /// Connects and enforces the guard; throws 77 with every reason when the site is not positively staging.
    public static func open(_ request: ConnectionRequest, configPath: String?, scope: GuardScope = .site) throws -> SiteConnection {
        let config = try StagefixConfig.load(explicitPath: configPath, searchFrom: FileManager.default.currentDirectoryPath)
        return try open(request, config: config, scope: scope)
    }

    /// The whole decision, read-only: the evidence, and for a site whose env names nothing, what its
    /// Django (settings, the database's marker) says. The caller closes what it opened.
    public static func judge(_ request: ConnectionRequest, config: StagefixConfig, scope: GuardScope = .site) throws -> GuardEvaluation {
        var evaluation = try evaluateGuard(request, config: config, scope: scope)
        if scope == .site, evaluation.verdict.awaitsSiteConfirmation, let site = evaluation.site {
            do {
                evaluation.verdict = evaluation.verdict.adding(try confirmationReasons(site, evaluation: evaluation, rules: config.guardRules))
            } catch {
                site.closeRunner()
                evaluation.session?.disconnect()
                throw error
            }
        }
        return evaluation
    }

    public static func open(_ request: ConnectionRequest, config: StagefixConfig, scope: GuardScope = .site) throws -> SiteConnection {
        let evaluation = try judge(request, config: config, scope: scope)
        for reason in evaluation.verdict.reasons { request.trace?("guard: \(reason.signal.rawValue): \(reason)") }
        guard evaluation.verdict.allows(scope), let site = evaluation.site else {
            evaluation.site?.closeRunner()
            evaluation.session?.disconnect()
            throw evaluation.verdict.refusal(for: scope)
        }
        // Every destructive request waits for another run's fixture lock (commands set how long).
        site.lockGate = LockGate(host: evaluation.host, waitSeconds: 60)
        // The probe already read the env file over this session: the site reuses it.
        let log = AuditLog(path: config.auditLogPath ?? AuditLog.defaultPath())
        return SiteConnection(site: site, settings: evaluation.settings, verdict: evaluation.verdict, siteHost: evaluation.host, auditLog: log, production: evaluation.production, rules: config.guardRules)
    }

    /// A site whose env file names nothing: its Django's settings (ALLOWED_HOSTS) may name the host;
    /// else its database's staging marker vouches, and every later write checks the marker again in
    /// the process that writes.
    private static func confirmationReasons(_ site: StagingSite, evaluation: GuardEvaluation, rules: GuardRules) throws -> [GuardReason] {
        let heard: [GuardReason]
        do {
            heard = try settingsIdentityReasons(site, evaluation: evaluation, rules: rules)
        } catch StagefixError.configuration(let message) where message.contains("does not exist") {
            // No env file: say whether the whole site is missing (a wrong site.path) or only its env.
            if try SFTPClient(session: site.session, timeout: site.timeout).attributes(of: site.layout.projectPath) == nil {
                return [GuardReason(.neutral, "identity", "the site folder \(site.layout.projectPath) does not exist on \(evaluation.host), so nothing there says it is staging",
                    fix: "deploy the site there or set site.path for this host in stagefix.yml")]
            }
            throw StagefixError.configuration(message)
        }
        let settingsReasons = heard.map { reason in
            var reason = reason
            reason.detail = reason.detail.replacingOccurrences(of: "the site's ", with: "the site's settings: ")
            return reason
        }
        if settingsReasons.contains(where: { $0.signal == .staging }) || settingsReasons.contains(where: { $0.signal == .production }) {
            return settingsReasons
        }
        let marker = try site.runner().marker()
        guard marker.role == "staging" else {
            return settingsReasons + [GuardReason(.neutral, "database marker", "the site's database \(marker.database) is \(marker.role.map { "marked \($0)" } ?? "not marked")")]
        }
        site.requiredMarkerRole = "staging"
        return settingsReasons + [GuardReason(.staging, "database marker", "the site's database \(marker.database) is marked staging")]
    }

    /// How long destructive requests wait for another run's fixture lock; `heldByThisRun` is the
    /// nonce of a lock this run took itself (a playbook's).
    public func bindLock(waitSeconds: Double, heldByThisRun: String? = nil) {
        site.lockGate = LockGate(host: siteHost, waitSeconds: waitSeconds, heldByThisRun: heldByThisRun)
    }

    /// The site's mailbox: `source`, else the one stagefix.yml gives the host. It must lie in the
    /// site's folder or be the configured one, and never in a production site's folder (reset writes
    /// a mark there, and Django-file sources are deleted from).
    /// `overallSeconds`: a bound on all its requests together, from now (`mail list`, `mail reset`).
    public func mailbox(source text: String?, overallSeconds: Double? = nil) throws -> Mailbox {
        let overall = overallSeconds.map { Deadline(secondsFromNow: $0) }
        guard let text = text ?? settings.mailSource else {
            throw StagefixError.configuration("no mail source for \(siteHost): pass --source maildir:PATH or django-files:PATH, or set `mail:` for the host in stagefix.yml")
        }
        let source = try MailSource(parsing: text)
        // `~/x` and `/home/u/x` are one folder: the login folder is asked only when the spellings differ.
        let paths = [source.folder, site.layout.projectPath] + (settings.mailSource.map { [$0] } ?? [])
        let home = paths.contains { $0.hasPrefix("/") } && paths.contains { !$0.hasPrefix("/") }
            ? try SFTPClient(session: site.session, timeout: site.timeout).realPath(".") : "~"
        try MailSourcePolicy.check(source, layout: site.layout, configured: settings.mailSource, productionNames: production.names, productionSitePaths: production.sitePaths, rules: rules, host: siteHost, home: home)
        return try Mailbox(session: site.session, source: source, host: siteHost, timeout: site.timeout, overall: overall)
    }

    /// Records a destructive command in the audit log (command text already free of secrets).
    public func audit(command: String, exitStatus: Int32) {
        let record = AuditRecord(
            // The account from the operating system: $USER is whatever the caller set.
            time: Date(), localUser: LocalAccount.userName(), host: siteHost,
            address: site.session.address, hostKeyFingerprint: site.session.hostKey.fingerprint,
            command: site.redactor.redact(command), exitStatus: exitStatus, durationSeconds: started.milliseconds / 1000)
        // The command already ran: an unusable log is one warning line, never a silent skip.
        do { try auditLog.append(record) } catch { StandardStreams.printError("stagefix: warning: not audited: \(error)") }
    }
}
