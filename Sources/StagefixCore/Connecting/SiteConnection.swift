// Opens a staging site for a destructive command, with the production guard enforced first:
// names and role before connecting, host key during the handshake, identity from the env file
// (read over SFTP) before any command channel is opened. No flag overrides a refusal.
import Foundation
import SSH

public final class SiteConnection {
    public let site: StagingSite
    public let settings: HostSettings
    public let verdict: GuardVerdict
    /// The name cookies and URLs use: the host as typed.
    public let siteHost: String
    private let auditLog: AuditLog
    private let started = Stopwatch()

    private init(site: StagingSite, settings: HostSettings, verdict: GuardVerdict, siteHost: String, auditLog: AuditLog) {
        self.site = site
        self.settings = settings
        self.verdict = verdict
        self.siteHost = siteHost
        self.auditLog = auditLog
    }

    public func close() {
        site.closeRunner()
        site.session.disconnect()
    }

    /// The session cookie as the server sets it (stagefix.yml may override it).
    public var cookie: SessionCookieSettings { site.cookieSettings(settings) }

    /// The guard's verdict for a host, gathering every kind of evidence; connects only for the host
    /// key and the identity read (read-only), and only when names did not already refuse it.
    public static func evaluateGuard(_ request: ConnectionRequest, config: StagefixConfig) throws -> (verdict: GuardVerdict, session: SSHSession?, settings: HostSettings, layout: SiteLayout, host: String, site: StagingSite?) {
        let destination = (try? Destination(parsing: request.destination))?.host ?? request.destination
        let settings = config.hostSettings(for: destination)
        let rules = config.guardRules
        let productionNames = config.productionHostNames
        let (resolved, _) = try HostConnector.plan(request)

        var verdict = GuardVerdict(host: destination, reasons: ProductionGuard.nameReasons(
            typedHost: destination, sshHostName: resolved.hostName, role: settings.role,
            productionHostNames: productionNames, rules: rules))

        // Where it really connects, compared with where each production host resolves to.
        let targetAddresses = (try? TCPAddresses.resolve(resolved.hostName, port: resolved.port)) ?? []
        var productionEndpoints: [(name: String, addresses: [String], port: Int)] = []
        for name in productionNames {
            guard let production = try? HostConnector.plan(ConnectionRequest(destination: name, sshConfigPath: request.sshConfigPath)).resolved else { continue }
            productionEndpoints.append((name, (try? TCPAddresses.resolve(production.hostName, port: production.port)) ?? [], production.port))
        }
        verdict = verdict.adding(ProductionGuard.addressReasons(targetAddresses: targetAddresses, port: resolved.port, productionEndpoints: productionEndpoints))
        let layout = settings.site
        // Later evidence can only refuse, never make a host staging: decide now, without connecting.
        if !verdict.isAllowed { return (verdict, nil, settings, layout, destination, nil) }

        // What it really is: its host key, checked during the handshake.
        let productionKeys = config.productionHostKeys(sshConfigPath: request.sshConfigPath)
        let keyPolicy = GuardHostKeyPolicy(productionKeys: productionKeys)
        let session = try HostConnector.connect(request, extraHostKeyPolicies: [keyPolicy])
        verdict = verdict.adding(ProductionGuard.hostKeyReasons(fingerprint: session.hostKey.fingerprint, productionKeys: productionKeys))
        if verdict.isProduction { return (verdict, session, settings, layout, destination, nil) }

        // What it says it is: identity keys in its env file, read over SFTP (no command runs).
        let probe = StagingSite(session: session, host: destination, layout: layout, timeout: request.timeout, trace: request.trace)
        probe.identityKeys = rules.identityKeys
        probe.requireDatabaseMarker = rules.requireDatabaseMarker
        do {
            var identity: [(key: String, value: String)]
            if layout.envFilePath == nil {
                // A containerised site: its env lives in the container, so ask its own Django what it is
                // (the runner only loads settings and answers; nothing changes).
                let hello = try probe.runner().hello()
                identity = rules.identityKeys.compactMap { key in hello.identity[key].flatMap { $0.isEmpty ? nil : (key: key, value: $0) } }
                if let allowed = hello.identity["ALLOWED_HOSTS"], !allowed.isEmpty, !rules.identityKeys.contains("ALLOWED_HOSTS") {
                    identity.append((key: "ALLOWED_HOSTS", value: allowed))
                }
            } else {
                let environment = try probe.environment()
                identity = rules.identityKeys.compactMap { key in environment.value(for: key).map { (key: key, value: $0) } }
            }
            verdict = verdict.adding(ProductionGuard.identityReasons(identity: identity, typedHost: destination, sshHostName: resolved.hostName, productionHostNames: productionNames, rules: rules))
        } catch StagefixError.configuration(let message) where message.contains("does not exist") {
            verdict = verdict.adding([GuardReason(.neutral, "identity", "no env file at \(layout.envFilePath ?? "-") to read the server's identity from")])
            // Reached under a name it does not know itself by: what sites does it host? (read-only listing)
            let folder = PathText.deletingLastComponent(layout.projectPath)
            if !folder.isEmpty, let names = try SFTPClient(session: session, timeout: request.timeout).listDirectory(folder) {
                verdict = verdict.adding(ProductionGuard.hostedSiteReasons(siteNames: names, folder: folder, productionHostNames: productionNames, rules: rules))
            }
        }
        return (verdict, session, settings, layout, destination, probe)
    }

    /// Connects and enforces the guard; throws 77 with every reason when the host is not positively staging.
    public static func open(_ request: ConnectionRequest, configPath: String?) throws -> SiteConnection {
        let config = try StagefixConfig.load(explicitPath: configPath, searchFrom: FileManager.default.currentDirectoryPath)
        return try open(request, config: config)
    }

    public static func open(_ request: ConnectionRequest, config: StagefixConfig) throws -> SiteConnection {
        let evaluation = try evaluateGuard(request, config: config)
        for reason in evaluation.verdict.reasons { request.trace?("guard: \(reason.signal.rawValue): \(reason)") }
        guard evaluation.verdict.isAllowed, let site = evaluation.site else {
            evaluation.session?.disconnect()
            throw evaluation.verdict.refusal()
        }
        // The probe already read the env file over this session: the site reuses it.
        let log = AuditLog(path: config.auditLogPath ?? AuditLog.defaultPath())
        return SiteConnection(site: site, settings: evaluation.settings, verdict: evaluation.verdict, siteHost: evaluation.host, auditLog: log)
    }

    /// Records a destructive command in the audit log (command text already free of secrets).
    public func audit(command: String, exitStatus: Int32) {
        let record = AuditRecord(
            time: Date(), localUser: ProcessInfo.processInfo.environment["USER"] ?? LocalAccount.userName(), host: siteHost,
            address: site.session.address, hostKeyFingerprint: site.session.hostKey.fingerprint,
            command: site.redactor.redact(command), exitStatus: exitStatus, durationSeconds: started.milliseconds / 1000)
        do { try auditLog.append(record) } catch { StandardStreams.printError("stagefix: warning: \(error)") }
    }
}

/// Refuses a server whose host key is a production host's, during the handshake.
struct GuardHostKeyPolicy: HostKeyPolicy {
    let productionKeys: [String: String]

    func validate(hostKey: HostKey, for endpoint: HostKeyEndpoint) throws {
        if let owner = productionKeys[hostKey.fingerprint] {
            throw StagefixError.refusedByGuard(["host key: the server's key \(hostKey.fingerprint) is the key of \(owner)"])
        }
    }
}
