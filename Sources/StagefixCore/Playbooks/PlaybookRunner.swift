// Runs planned playbooks: one guarded connection per host for all its steps, hosts in parallel up to
// a bound, the host lock held while anything changes, a failed step stopping only its host.
import Foundation
import SSH

public struct StepResult: @unchecked Sendable {
    public enum Status: String, Sendable { case ok, failed, skipped, planned }

    public var step: PlaybookStep
    public var summary: String
    public var status: Status
    public var milliseconds: Double
    public var error: (any Error)?
    /// JSON-ready outputs (sessions, exit statuses, changed keys...), secrets already masked.
    public var output: [String: Any]
}

public struct HostResult: @unchecked Sendable {
    public var host: String
    public var steps: [StepResult]
    /// What stopped the host: a failed step, or connecting / the guard / the lock before any step.
    public var error: (any Error)?
    public var milliseconds: Double
    public var registered: [String: [String: Any]]

    public var exitStatus: ExitStatus { error.map { ExitStatus(for: $0) } ?? .success }
}

/// What the command line shows while hosts run (called from the hosts' threads, one at a time).
public protocol PlaybookProgress: Sendable {
    func stepStarted(host: String, step: PlannedStep, of total: Int)
    func stepFinished(host: String, result: StepResult, of total: Int)
    func hostFinished(_ result: HostResult)
}

public struct PlaybookRunOptions: Sendable {
    public var config: StagefixConfig
    /// The connection request for a host (its ssh_config, timeout, trace).
    public var request: @Sendable (String) -> ConnectionRequest
    public var forks: Int
    public var lockWaitSeconds: Double
    public var progress: (any PlaybookProgress)?

    public init(config: StagefixConfig, request: @escaping @Sendable (String) -> ConnectionRequest, forks: Int, lockWaitSeconds: Double, progress: (any PlaybookProgress)?) {
        self.config = config
        self.request = request
        self.forks = forks
        self.lockWaitSeconds = lockWaitSeconds
        self.progress = progress
    }
}

public enum PlaybookRunner {
    /// Every host's result, in the order of `plans`.
    public static func run(_ playbook: Playbook, plans: [HostPlan], options: PlaybookRunOptions) -> [HostResult] {
        let results = Results(count: plans.count)
        let bound = DispatchSemaphore(value: max(1, options.forks))
        let group = DispatchGroup()
        for (index, plan) in plans.enumerated() {
            bound.wait()
            group.enter()
            Thread.detachNewThread {
                let result = runHost(playbook, plan: plan, options: options)
                results.set(index, result)
                options.progress?.hostFinished(result)
                bound.signal()
                group.leave()
            }
        }
        group.wait()
        return results.all
    }

    /// The plan without touching any host (`--dry-run`).
    public static func dryRun(_ plans: [HostPlan]) -> [HostResult] {
        plans.map { plan in
            let redactor = Redactor(values: plan.secrets)
            let steps = plan.steps.map { StepResult(step: $0.step, summary: redactor.redact($0.summary), status: .planned, milliseconds: 0, error: nil, output: [:]) }
            return HostResult(host: plan.host, steps: steps, error: nil, milliseconds: 0, registered: [:])
        }
    }

    static func runHost(_ playbook: Playbook, plan: HostPlan, options: PlaybookRunOptions) -> HostResult {
        let watch = Stopwatch()
        let planRedactor = Redactor(values: plan.secrets)
        var results: [StepResult] = []
        var registered: [String: [String: Any]] = [:]
        var sessions: [String: [(email: String, key: SessionKey)]] = [:]
        var links: [String: String] = [:]
        func finish(_ error: (any Error)?) -> HostResult {
            for planned in plan.steps.dropFirst(results.count) {
                results.append(StepResult(step: planned.step, summary: planRedactor.redact(planned.summary), status: .skipped, milliseconds: 0, error: nil, output: [:]))
            }
            return HostResult(host: plan.host, steps: results, error: error, milliseconds: watch.milliseconds, registered: registered)
        }

        let request = options.request(plan.host)
        let fixture: SiteConnection
        // An exec step is a shell, which reaches every site of the login user: judged for the machine.
        let scope: GuardScope = plan.steps.contains { if case .exec = $0.action { return true } else { return false } } ? .machine : .site
        do {
            fixture = try SiteConnection.open(request, config: options.config, scope: scope)
        } catch {
            return finish(error)
        }
        defer { fixture.close() }
        var lock: HostLock?
        if playbook.changesHosts {
            do {
                // A playbook that starts Django anyway has its runner take the lock (no channel of the
                // lock's own); not for a containerised site, whose runner does not see the host's files.
                let runnerTakesLock = plan.steps.contains { $0.step.action.usesDjangoRunner } && fixture.site.layout.commandPrefix == nil
                lock = try HostLock.acquire(
                    session: fixture.site.session, host: fixture.siteHost, command: "stagefix play \(playbook.path)",
                    waitSeconds: options.lockWaitSeconds, commandTimeout: request.timeout,
                    runnerSite: runnerTakesLock ? fixture.site : nil, trace: request.trace)
            } catch {
                return finish(error)
            }
        }
        defer { lock?.release() }
        // The playbook's own lock does not make its steps wait; another run's would (read-only playbooks hold none).
        fixture.bindLock(waitSeconds: options.lockWaitSeconds, heldByThisRun: lock?.nonce)
        // Step summaries show --var values: an env secret given as one is masked as in errors.
        let siteRedactor = fixture.site.redactor

        func newResult(_ planned: PlannedStep) -> StepResult {
            StepResult(step: planned.step, summary: siteRedactor.redact(planRedactor.redact(planned.summary)), status: .ok, milliseconds: 0, error: nil, output: [:])
        }
        /// Audits, registers and reports a finished step; its error, if it failed.
        func record(_ planned: PlannedStep, _ result: StepResult) -> (any Error)? {
            if planned.step.action.changesHost {
                fixture.audit(command: "play \(playbook.name) step \(planned.step.index) \(planned.step.action.kind): \(result.summary)", exitStatus: result.status == .ok ? 0 : ExitStatus(for: result.error!).rawValue)
            }
            if let name = planned.step.register, result.status == .ok { registered[name] = result.output }
            results.append(result)
            options.progress?.stepFinished(host: plan.host, result: result, of: plan.steps.count)
            return result.error
        }

        var index = 0
        while index < plan.steps.count {
            let planned = plan.steps[index]
            lock?.heartbeatIfDue()
            options.progress?.stepStarted(host: plan.host, step: planned, of: plan.steps.count)
            // A flush right before a create_session (the per-test fixture): one request to the runner
            // for both, one round trip fewer; the sessions never run when the flush fails.
            if case .flush = planned.action, index + 1 < plan.steps.count, case .createSession(let emails) = plan.steps[index + 1].action {
                let next = plan.steps[index + 1]
                var flushed = newResult(planned), created = newResult(next)
                let watch = Stopwatch()
                do {
                    let outcome = try fixture.site.runner().flushThenCreateSessionsByStep(emails, options: SessionRequestOptions())
                    flushed.output = ["flushed": true]
                    created.output = sessionsOutput(emails, outcome.keys, register: next.step.register, fixture: fixture, sessions: &sessions)
                    // The flush's own time on the server; the rest of the request is the sessions'.
                    flushed.milliseconds = min(outcome.flushMilliseconds, watch.milliseconds)
                } catch let failure as DjangoRunner.StepFailure where failure.step == 1 {
                    flushed.output = ["flushed": true]
                    created.status = .failed
                    created.error = failure.error
                } catch {
                    flushed.status = .failed
                    flushed.error = (error as? DjangoRunner.StepFailure)?.error ?? error
                    flushed.milliseconds = watch.milliseconds
                }
                if let error = record(planned, flushed) { return finish(error) }
                options.progress?.stepStarted(host: plan.host, step: next, of: plan.steps.count)
                created.milliseconds = max(0, watch.milliseconds - flushed.milliseconds)
                if let error = record(next, created) { return finish(error) }
                index += 2
                continue
            }
            let stepWatch = Stopwatch()
            var result = newResult(planned)
            do {
                result.output = try perform(planned, on: fixture, sessions: &sessions, links: &links, timeout: request.timeout, redactor: planRedactor)
            } catch {
                result.status = .failed
                result.error = error
            }
            result.milliseconds = stepWatch.milliseconds
            if let error = record(planned, result) { return finish(error) }
            index += 1
        }
        return finish(nil)
    }

    /// A create_session step's output (and its sessions kept under its `register` name for http_get).
    private static func sessionsOutput(_ emails: [EmailAddress], _ keys: [SessionKey], register: String?, fixture: SiteConnection, sessions: inout [String: [(email: String, key: SessionKey)]]) -> [String: Any] {
        if let register { sessions[register] = zip(emails, keys).map { ($0.value, $1) } }
        return ["sessions": zip(emails, keys).map { email, key in
            ["email": email.value, "key": key.value, "cookie": SessionOutput.seleniumCookie(key, host: fixture.cookieHost, cookie: fixture.cookie)] as [String: Any]
        }]
    }

    private static func perform(_ planned: PlannedStep, on fixture: SiteConnection, sessions: inout [String: [(email: String, key: SessionKey)]], links: inout [String: String], timeout: Double, redactor: Redactor) throws -> [String: Any] {
        let site = fixture.site
        func masked(_ text: String) -> String { redactor.redact(site.redactor.redact(text)) }
        switch planned.action {
        case .flush:
            try site.flushDatabase()
            return ["flushed": true]
        case .createSession(let emails):
            let keys = try site.createSessions(for: emails)
            return sessionsOutput(emails, keys, register: planned.step.register, fixture: fixture, sessions: &sessions)
        case .envEdit(let edits):
            let outcome = try site.applyEnvEdits(edits)
            return ["path": outcome.path, "changed": outcome.changedKeys, "unchanged": outcome.unchangedKeys]
        case .manage(let arguments):
            // In the runner, after the database checks, like `stagefix manage` (any command can write).
            let stdout = BoundedTail(), stderr = BoundedTail()
            let status = try site.relayManagement(arguments, stdout: { Array($0.utf8).withUnsafeBytes { stdout.append($0) } }, stderr: { Array($0.utf8).withUnsafeBytes { stderr.append($0) } })
            guard status == 0 else {
                throw StagefixError.remoteCommandFailed(command: "manage.py " + masked(arguments.joined(separator: " ")), exit: RemoteExit(status: status), stderrTail: tail(masked(stderr.text), lines: 8))
            }
            return ["exit_status": Int(status), "stdout": masked(tail(stdout.text)), "stderr": masked(tail(stderr.text))]
        case .exec(let command):
            let out = BoundedTail(), err = BoundedTail()
            let exit = try site.session.run(RemoteCommand(command, stdout: { out.append($0) }, stderr: { err.append($0) }), timeout: timeout)
            let stderr = masked(err.text)
            guard exit.succeeded else {
                throw StagefixError.remoteCommandFailed(command: masked(command), exit: exit, stderrTail: tail(stderr, lines: 8))
            }
            return ["exit_status": Int(exit.status), "stdout": masked(out.text), "stderr": stderr]
        case .check:
            let lines = try site.checkSite()
            if let failed = lines.first(where: { !$0.passed }) {
                throw StagefixError.configuration("check: \(failed.name): \(failed.detail)")
            }
            return ["checks": lines.map { ["name": $0.name, "ok": $0.passed, "detail": $0.detail] as [String: Any] }]
        case .mailReset(let source):
            let mailbox = try mailbox(source, fixture: fixture, timeout: timeout)
            return ["mark": try mailbox.reset().description, "source": mailbox.source.description]
        case let .waitForEmail(query, pattern, source, waitSeconds):
            let mailbox = try mailbox(source, fixture: fixture, timeout: timeout)
            let offset = MailWait.serverClockOffset(session: site.session, timeout: timeout)
            let entry = try MailWait.wait(mailbox, host: fixture.siteHost, query: query, since: nil, timeout: waitSeconds ?? timeout, keep: false, serverClockOffset: offset, trace: nil)
            let link = try MailWait.link(in: entry.message, matching: pattern ?? "")
            if let name = planned.step.register { links[name] = link }
            return ["to": entry.message.recipients, "subject": entry.message.subject ?? NSNull(), "link": link, "links": entry.message.links]
        case let .httpGet(plannedURL, sessionName, email, status, contains, headers):
            var url = planned.step.action.registeredURL.flatMap { links[$0] } ?? plannedURL
            if SiteURL.isPath(url) {
                guard let siteURL = fixture.settings.siteURL else {
                    throw StagefixError.invalidData("http_get: `\(TerminalText.escaped(url))` is a path: set the site's address as site.url for \(fixture.siteHost) in stagefix.yml, or give a full URL")
                }
                url = siteURL.resolve(url)
            }
            var allHeaders = headers
            if let sessionName {
                let registered = sessions[sessionName] ?? []
                guard let chosen = email.map({ wanted in registered.first { $0.email.lowercased() == wanted.lowercased() } }) ?? registered.first else {
                    throw StagefixError.invalidData("http_get: session `\(sessionName)` has no user \(email ?? "")")
                }
                allHeaders.append(("Cookie", "\(fixture.cookie.name)=\(chosen.key.value)"))
            }
            let response = try HTTPProbe.get(url, headers: allHeaders, timeout: timeout)
            let snippet = String(response.body.prefix(200)).trimmingCharacters(in: .whitespacesAndNewlines)
            guard response.status == status else {
                throw StagefixError.remoteCommandFailed(command: "GET \(url)", exit: RemoteExit(status: 1), stderrTail: "expected HTTP \(status), got \(response.status): \(masked(snippet))")
            }
            if let missing = contains.first(where: { !response.body.contains($0) }) {
                throw StagefixError.remoteCommandFailed(command: "GET \(url)", exit: RemoteExit(status: 1), stderrTail: "the page does not contain \"\(missing)\"" + (response.isTruncated ? " in its first \(ByteCount(HTTPProbe.maximumBodyBytes)) (of \(ByteCount(response.bodyBytes)))" : "") + "; it starts: \(masked(snippet))")
            }
            return ["url": url, "status": response.status, "bytes": response.bodyBytes, "truncated": response.isTruncated]
        }
    }

    private static func mailbox(_ source: String?, fixture: SiteConnection, timeout: Double) throws -> Mailbox {
        try fixture.mailbox(source: source)
    }

    private static func tail(_ text: String, lines: Int = 40) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [HostResult?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ result: HostResult) { lock.withLock { values[index] = result } }
        var all: [HostResult] { lock.withLock { values.compactMap { $0 } } }
    }
}
