// `stagefix check`: reachability, host key and authentication, one verdict line each.
import Foundation
import SSH

public struct HostCheckReport: Sendable {
    public struct Line: Sendable {
        public var name: String
        public var passed: Bool?
        public var detail: String
    }

    public var host: String
    public var checks: [Line]
    /// The first failure, mapped to its exit code by the caller.
    public var failure: (any Error)?

    public var lines: [String] {
        checks.map { check in
            let mark = check.passed.map { $0 ? "ok  " : "FAIL" } ?? "skip"
            return "\(mark) \(check.name.padding(toLength: 15, withPad: " ", startingAt: 0)) \(check.detail)"
        }
    }

    public var json: String {
        var object: [String: Any] = [
            "ok": failure == nil, "host": host,
            "checks": checks.map { ["name": $0.name, "ok": $0.passed.map { $0 as Any } ?? NSNull(), "detail": $0.detail] as [String: Any] },
        ]
        if let failure {
            let status = ExitStatus(for: failure)
            object["error"] = ["kind": status.kind, "message": String(describing: failure)]
        }
        return JSONOutput.encode(object)
    }
}

extension HostCheckReport {
    /// Adds the production guard's verdict (read-only: it reads the env file for identity), then, on an
    /// allowed host, the site: layout, env file, the `create_session` command.
    public mutating func addGuardVerdict(_ request: ConnectionRequest, configPath: String?) {
        do {
            let config = try StagefixConfig.load(explicitPath: configPath, searchFrom: FileManager.default.currentDirectoryPath)
            let evaluation = try SiteConnection.judge(request, config: config)
            defer {
                evaluation.site?.closeRunner()
                evaluation.session?.disconnect()
            }
            let verdict = evaluation.verdict
            if verdict.isAllowed {
                let why = verdict.reasons.first { $0.signal == .staging }.map(\.description) ?? "staging"
                checks.append(.init(name: "guard", passed: true, detail: "allowed: \(why)"))
                // Only on a host the guard allows: the runner runs the site's code, if read-only.
                if let site = evaluation.site {
                    for line in try site.checkSite() {
                        checks.append(.init(name: line.name, passed: line.passed, detail: line.detail))
                        if !line.passed && failure == nil { failure = StagefixError.configuration("\(line.name): \(line.detail)") }
                    }
                }
            } else {
                checks.append(.init(name: "guard", passed: false, detail: "refused: " + verdict.refusalReasons.joined(separator: "; ")))
                checks.append(.init(name: "site", passed: nil, detail: "not checked: the guard refused the host"))
                failure = verdict.refusal()
            }
        } catch {
            checks.append(.init(name: "guard", passed: false, detail: String(describing: error)))
            failure = error
        }
    }
}

public enum HostCheck {
    /// Connects (read-only: no channel is opened on the target, only a forwarding one on each jump
    /// host) and reports which step passed, each jump host on its own line.
    public static func run(_ request: ConnectionRequest) -> HostCheckReport {
        var report = HostCheckReport(host: request.destination, checks: [], failure: nil)
        let plan: ConnectionOptions
        do {
            plan = try HostConnector.plan(request).options
            report.checks.append(.init(name: "ssh config", passed: true, detail: "\(plan.user)@\(plan.host) port \(plan.port)\(HostConnector.routeDescription(plan.route))"))
        } catch {
            report.checks.append(.init(name: "ssh config", passed: false, detail: String(describing: error)))
            report.failure = error
            return report
        }
        let jumpCount = jumps(in: plan.route)
        var reached: [JumpRecord] = []
        do {
            let session = try SSHSession.connect(plan) { reached.append($0) }
            report.checks += reached.enumerated().map { jumpLine($0.offset, $0.element) }
            if case .command(let command) = plan.route {
                report.checks.append(.init(name: "proxy command", passed: true, detail: command))
            }
            let where_ = plan.route.isDirect ? "\(session.address) port \(plan.port)" : "\(plan.host) port \(plan.port) (as the jump host or proxy command reached it)"
            report.checks.append(.init(name: "reachable", passed: true, detail: where_))
            report.checks.append(.init(name: "host key", passed: true, detail: "\(session.hostKey.algorithm) \(session.hostKey.fingerprint) known"))
            report.checks.append(.init(name: "authentication", passed: true, detail: "logged in as \(plan.user)"))
            session.disconnect()
        } catch let error as SSHError {
            report.checks += reached.enumerated().map { jumpLine($0.offset, $0.element) }
            if reached.count < jumpCount {
                // A jump host failed: the target was never tried.
                report.checks.append(.init(name: "jump \(reached.count + 1)", passed: false, detail: String(describing: error)))
                for name in ["reachable", "host key", "authentication"] { report.checks.append(.init(name: name, passed: nil, detail: "not checked")) }
                report.failure = error
                return report
            }
            let failedStep: Int
            switch error {
            case .unresolvable, .connectFailed: failedStep = 0
            case .hostKeyUnknown, .hostKeyChanged, .hostKeyRevoked, .hostKeyRefused: failedStep = 1
            case .authenticationFailed: failedStep = 2
            case .timedOut(let during, _): failedStep = during.contains("authentication") ? 2 : during.contains("handshake") ? 1 : 0
            default: failedStep = 0
            }
            let names = ["reachable", "host key", "authentication"]
            for (index, name) in names.enumerated() {
                if index < failedStep {
                    report.checks.append(.init(name: name, passed: true, detail: index == 0 ? "\(plan.host) port \(plan.port)" : "accepted"))
                } else if index == failedStep {
                    report.checks.append(.init(name: name, passed: false, detail: String(describing: error)))
                } else {
                    report.checks.append(.init(name: name, passed: nil, detail: "not checked"))
                }
            }
            report.failure = error
        } catch {
            report.checks.append(.init(name: "reachable", passed: false, detail: String(describing: error)))
            report.failure = error
        }
        return report
    }

    private static func jumpLine(_ index: Int, _ jump: JumpRecord) -> HostCheckReport.Line {
        .init(name: "jump \(index + 1)", passed: true,
              detail: "\(jump.user)@\(jump.host) port \(jump.port) (\(jump.address)): host key \(jump.hostKey.algorithm) \(jump.hostKey.fingerprint) known, logged in (used only to forward)")
    }

    private static func jumps(in route: ConnectionRoute) -> Int {
        if case .jump(let through) = route { return 1 + jumps(in: through.route) }
        return 0
    }
}
