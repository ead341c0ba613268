// What `stagefix play` prints at the end: one JSON document for programs, or a summary for people;
// and the exit code, decided by the worst host.
import Foundation

public enum PlaybookReport {
    /// The worst host decides: the highest exit code (78 config > 77 guard > 76 host key > 75 timeout...).
    public static func exitStatus(_ results: [HostResult]) -> ExitStatus {
        results.map(\.exitStatus).max { $0.rawValue < $1.rawValue } ?? .success
    }

    public static func json(_ playbook: Playbook, results: [HostResult], dryRun: Bool) -> String {
        let status = exitStatus(results)
        return JSONOutput.encode([
            "ok": status == .success, "playbook": playbook.name, "path": playbook.path, "dry_run": dryRun,
            "exit_code": Int(status.rawValue),
            "hosts": results.map { host -> [String: Any] in
                [
                    "host": host.host, "ok": host.error == nil, "exit_code": Int(host.exitStatus.rawValue),
                    "error": errorObject(host.error), "duration_ms": rounded(host.milliseconds),
                    "registered": host.registered,
                    "steps": host.steps.map { step -> [String: Any] in
                        [
                            "index": step.step.index, "name": step.step.displayName, "kind": step.step.action.kind,
                            "status": step.status.rawValue, "duration_ms": rounded(step.milliseconds), "summary": step.summary,
                            "error": errorObject(step.error), "output": step.output,
                        ]
                    },
                ]
            },
        ]) + "\n"
    }

    /// The plan, step by step, for `--dry-run` in text.
    public static func planText(_ playbook: Playbook, results: [HostResult]) -> String {
        var lines = ["\(playbook.name) (\(playbook.path)): dry run, no host is contacted"]
        for host in results {
            lines.append("\(host.host):")
            for step in host.steps {
                let name = step.step.displayName
                lines.append("  \(step.step.index). \(name)\(String(repeating: " ", count: max(1, 24 - name.count)))[\(step.step.action.kind)] \(step.summary)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per host, then the registered sessions (`NAME EMAIL KEY`), which is what a test wants.
    public static func summaryText(_ results: [HostResult]) -> String {
        var lines: [String] = []
        for host in results {
            let done = host.steps.filter { $0.status == .ok }.count
            if let error = host.error {
                let failed = host.steps.first { $0.status == .failed }
                let place = failed.map { "at step \($0.step.index) (\($0.step.displayName))" } ?? "before the first step"
                lines.append("\(host.host): FAILED \(place) [\(ExitStatus(for: error).kind)]: \(TerminalText.escapedKeepingLines(String(describing: error)).replacingOccurrences(of: "\n", with: " "))")
            } else {
                lines.append("\(host.host): ok, \(done) step\(done == 1 ? "" : "s") in \(Int(host.milliseconds)) ms")
            }
        }
        for host in results {
            for (name, output) in host.registered.sorted(by: { $0.key < $1.key }) {
                for session in output["sessions"] as? [[String: Any]] ?? [] {
                    lines.append("\(host.host) \(name) \(session["email"] ?? "") \(session["key"] ?? "")")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func errorObject(_ error: (any Error)?) -> Any {
        guard let error else { return NSNull() }
        let status = ExitStatus(for: error)
        return ["kind": status.kind, "message": String(describing: error), "exit_code": Int(status.rawValue)]
    }

    private static func rounded(_ milliseconds: Double) -> Double { (milliseconds * 10).rounded() / 10 }
}
