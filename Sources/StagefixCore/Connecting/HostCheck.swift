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
    /// Connects (read-only: no channel is opened) and reports which step passed.
    public static func run(_ request: ConnectionRequest) -> HostCheckReport {
        var report = HostCheckReport(host: request.destination, checks: [], failure: nil)
        let plan: ConnectionOptions
        do {
            plan = try HostConnector.plan(request).options
            report.checks.append(.init(name: "ssh config", passed: true, detail: "\(plan.user)@\(plan.host) port \(plan.port)"))
        } catch {
            report.checks.append(.init(name: "ssh config", passed: false, detail: String(describing: error)))
            report.failure = error
            return report
        }
        do {
            let session = try SSHSession.connect(plan)
            report.checks.append(.init(name: "reachable", passed: true, detail: "\(session.address) port \(plan.port)"))
            report.checks.append(.init(name: "host key", passed: true, detail: "\(session.hostKey.algorithm) \(session.hostKey.fingerprint) known"))
            report.checks.append(.init(name: "authentication", passed: true, detail: "logged in as \(plan.user)"))
            session.disconnect()
        } catch let error as SSHError {
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
}
