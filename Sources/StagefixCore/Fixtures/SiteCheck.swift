// The site half of `check`: layout, env file and the `create_session` command, in one management
// command run with the server's env (read-only: `manage.py help create_session`).

public struct SiteCheckLine: Sendable {
    public var name: String
    public var passed: Bool
    public var detail: String
}

extension StagingSite {
    /// One line per fact; throws only when the host itself cannot be talked to.
    public func checkSite() throws -> [SiteCheckLine] {
        var lines: [SiteCheckLine] = []
        let environment: ServerEnvironment
        do {
            environment = try self.environment()
            let problems = environment.problems.map { "line \($0.line): \($0.message)" }
            lines.append(.init(name: "env file", passed: problems.isEmpty,
                detail: "\(environment.path): \(environment.values.count) values" + (problems.isEmpty ? "" : "; " + problems.joined(separator: "; "))))
        } catch let error as StagefixError {
            lines.append(.init(name: "env file", passed: false, detail: error.description))
            return lines
        }
        let arguments = ["help", "create_session"]
        let output = try manage([arguments])[0]
        if output.exit.succeeded {
            lines.append(.init(name: "site", passed: true, detail: "\(layout.projectPath) (\(layout.commandPrefix.map { $0.joined(separator: " ") } ?? layout.pythonPath + " " + layout.manage))"))
            lines.append(.init(name: "create_session", passed: true, detail: "management command present"))
            return lines
        }
        let failure = failure(of: output, arguments: arguments)
        if ManagementCommandLine.prologueFailure(exit: output.exit, stderr: output.stderr) != nil {
            lines.append(.init(name: "site", passed: false, detail: failure.description))
        } else if case .configuration = failure {
            lines.append(.init(name: "site", passed: true, detail: layout.projectPath))
            lines.append(.init(name: "create_session", passed: false, detail: failure.description))
        } else {
            lines.append(.init(name: "site", passed: false, detail: failure.description))
        }
        return lines
    }
}
