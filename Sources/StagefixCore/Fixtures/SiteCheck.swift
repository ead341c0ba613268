// The site half of `check`: env file, layout, Django, the `create_session` command and the database
// marker, read by the runner (read-only: it loads Django and answers, nothing is changed).

public struct SiteCheckLine: Sendable {
    public var name: String
    public var passed: Bool
    public var detail: String
}

extension StagingSite {
    /// One line per fact; throws only when the host itself cannot be talked to.
    public func checkSite() throws -> [SiteCheckLine] {
        var lines: [SiteCheckLine] = []
        do {
            let environment = try self.environment()
            if let refusal = environment.refusalIfOversized() {
                lines.append(.init(name: "env file", passed: false, detail: refusal.description))
                return lines
            }
            let problems = environment.problems.map { "line \($0.line): \($0.message)" }
            lines.append(.init(name: "env file", passed: problems.isEmpty,
                detail: "\(environment.path): \(environment.values.count) values" + (problems.isEmpty ? "" : "; " + problems.joined(separator: "; "))))
        } catch let error as StagefixError {
            lines.append(.init(name: "env file", passed: false, detail: error.description))
            return lines
        }
        let runner: DjangoRunner
        let hello: RunnerHello
        do {
            runner = try self.runner()
            hello = try runner.hello()
        } catch let error as StagefixError {
            lines.append(.init(name: "site", passed: false, detail: error.description))
            return lines
        }
        lines.append(.init(name: "site", passed: true, detail: "\(layout.projectPath): Django \(hello.django), Python \(hello.python), \(hello.settingsModule)"))
        lines.append(.init(name: "create_session", passed: true, detail: hello.hasCreateSession
            ? "the site's management command (checked like Django's get_user on every use)"
            : "none on the site: stagefix makes sessions itself (\(hello.sessionEngine))"))
        let marker = try runner.marker()
        let refusedUnmarked = marker.role == nil && requireDatabaseMarker
        lines.append(.init(name: "database marker", passed: marker.role != "production" && !refusedUnmarked,
            detail: "\(marker.database): " + (marker.role.map { "marked \($0)" } ?? "unmarked" + (refusedUnmarked ? " (guard.require_db_marker is on: run `stagefix db mark HOST staging`)" : ""))))
        return lines
    }
}
