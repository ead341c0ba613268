// A playbook made concrete for each host: vars filled in, emails and env edits checked, secrets
// known. Everything here happens before connecting; `--dry-run` prints exactly this.
import Foundation

public enum VariableValues {
    /// Defaults overlaid with `--var NAME=VALUE`; a list var takes comma-separated items.
    public static func resolve(_ playbook: Playbook, overrides: [(name: String, value: String)]) throws -> [String: VariableValue] {
        var values: [String: VariableValue] = [:]
        for variable in playbook.variables { values[variable.name] = variable.defaultValue }
        for (name, value) in overrides {
            guard let variable = playbook.variables.first(where: { $0.name == name }) else {
                let known = playbook.variables.map(\.name)
                throw StagefixError.usage("--var \(name): \(playbook.path) declares no var `\(name)`" + (known.isEmpty ? "" : " (it has: \(known.joined(separator: ", ")))"))
            }
            values[name] = variable.kind == .list ? .list(splitList(value)) : .string(value)
        }
        for variable in playbook.variables where values[variable.name] == nil {
            throw PlaybookError(variable.position, "var `\(variable.name)` is required: pass --var \(variable.name)=\(variable.kind == .list ? "a,b" : "VALUE")" + (variable.description.map { " (\($0))" } ?? ""))
        }
        return values
    }

    static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// One step with every value known.
public struct PlannedStep: Sendable {
    public enum Action: Sendable {
        case flush
        case createSession([EmailAddress])
        case envEdit(EnvEdits)
        case manage([String])
        case exec(String)
        case check
        case httpGet(url: String, session: String?, email: String?, status: Int, contains: [String], headers: [(String, String)])
        case mailReset(source: String?)
        case waitForEmail(query: MailQuery, link: String?, source: String?, timeout: Double?)
    }

    public var step: PlaybookStep
    public var action: Action

    /// What `--dry-run` and `-v` show: the exact work, secret values masked.
    public var summary: String {
        switch action {
        case .flush: return "manage.py flush --noinput"
        case .createSession(let emails): return "sessions for " + emails.map(\.value).joined(separator: ", ") + (step.register.map { " -> \($0)" } ?? "")
        case .envEdit(let edits): return edits.edits.map(\.planDescription).joined(separator: " ")
        case .manage(let arguments): return "manage.py " + arguments.joined(separator: " ")
        case .exec(let command): return command
        case .check: return "site layout, env file, create_session command"
        case .mailReset(let source): return "empty the mailbox" + (source.map { " \($0)" } ?? "")
        case let .waitForEmail(query, link, _, timeout):
            return "wait\(timeout.map { " up to \(formatSeconds($0))" } ?? "") for \(query)" + (link.map { ", link matching /\($0)/" } ?? "") + (step.register.map { " -> \($0)" } ?? "")
        case let .httpGet(url, session, email, status, contains, _):
            var text = "GET \(step.action.registeredURL.map { "the link of \($0)" } ?? url) expecting \(status)"
            if !contains.isEmpty { text += " containing " + contains.map { "\"\($0)\"" }.joined(separator: ", ") }
            if let session { text += " as \(session)" + (email.map { "[\($0)]" } ?? "") }
            return text
        }
    }
}

extension EnvEdits.Edit {
    /// The key, and the value only when it is no secret.
    var planDescription: String {
        switch self {
        case let .set(key, value): return "\(key)=\(SecretRedaction.redacted(value: value, forKey: key))"
        case let .setIfMissing(key, value): return "\(key)=\(SecretRedaction.redacted(value: value, forKey: key)) (if missing)"
        case let .generate(key): return "\(key)=<generated if missing>"
        }
    }
}

public struct HostPlan: Sendable {
    public var host: String
    public var steps: [PlannedStep]
    /// Values that must never be shown (from the deployer's environment): masked in every output.
    public var secrets: [String]
}

public enum PlaybookPlanner {
    /// The targets: `--host` values, else the playbook's `hosts:`.
    public static func hosts(_ playbook: Playbook, requested: [String], values: [String: VariableValue]) throws -> [String] {
        if !requested.isEmpty { return requested }
        var hosts: [String] = []
        for template in playbook.hosts { hosts += try template.renderWords(values) }
        guard !hosts.isEmpty else {
            throw StagefixError.usage("no host to run \(playbook.path) on: give --host HOST (the playbook has no `hosts:`)")
        }
        return hosts
    }

    public static func plan(_ playbook: Playbook, host: String, values: [String: VariableValue], localEnvironment: [String: String]) throws -> HostPlan {
        var scope = values
        scope["host"] = .string(host)
        // A string default may name the host (`base_url: "https://{{ host }}"`); a value given with --var is taken as is.
        for variable in playbook.variables {
            if case .string(let text)? = variable.defaultValue, text.contains("{{"), scope[variable.name] == variable.defaultValue {
                scope[variable.name] = .string(try Template(text, position: variable.position).render(["host": .string(host)]))
            }
        }
        var secrets: [String] = []
        let steps = try playbook.steps.map { step -> PlannedStep in
            let action: PlannedStep.Action
            switch step.action {
            case .flush: action = .flush
            case .check: action = .check
            case .createSession(let templates):
                var emails: [EmailAddress] = []
                for template in templates {
                    for word in try template.renderWords(scope) {
                        do {
                            emails.append(try EmailAddress(word))
                        } catch {
                            throw PlaybookError(template.position, "step \(step.index) (create_session): \(error)")
                        }
                    }
                }
                guard !emails.isEmpty else { throw PlaybookError(step.position, "step \(step.index) (create_session): no emails (the list var is empty)") }
                action = .createSession(emails)
            case let .envSet(assignments, onlyWhenMissing):
                var edits: [EnvEdits.Edit] = []
                for assignment in assignments {
                    switch assignment.source {
                    case .value(let template):
                        let value = try template.render(scope)
                        edits.append(onlyWhenMissing ? .setIfMissing(key: assignment.key, value: value) : .set(key: assignment.key, value: value))
                    case .fromLocal(let variable):
                        guard let value = localEnvironment[variable] else {
                            throw PlaybookError(assignment.position, "step \(step.index) (\(step.action.kind)): \(assignment.key) comes from this machine's $\(variable), which is not set")
                        }
                        secrets.append(value)
                        edits.append(onlyWhenMissing ? .setIfMissing(key: assignment.key, value: value) : .set(key: assignment.key, value: value))
                    case .generate:
                        edits.append(.generate(key: assignment.key))
                    }
                }
                action = .envEdit(EnvEdits(edits: edits))
            case .manage(let templates):
                action = .manage(try templates.flatMap { try $0.renderWords(scope) })
            case .exec(let template):
                action = .exec(try template.render(scope))
            case .mailReset(let source):
                action = .mailReset(source: try source?.render(scope))
            case .waitForEmail(let wait):
                let to = try wait.to.render(scope)
                do {
                    _ = try EmailAddress(to)
                } catch {
                    throw PlaybookError(wait.to.position, "step \(step.index) (wait_for_email): \(error)")
                }
                let source = try wait.source?.render(scope)
                if let source, (try? MailSource(parsing: source)) == nil {
                    throw PlaybookError(wait.source?.position, "step \(step.index) (wait_for_email): source `\(source)` is not maildir:PATH or django-files:PATH")
                }
                action = .waitForEmail(
                    query: try MailQuery(to: to, subject: try wait.subject?.render(scope), subjectPattern: wait.subjectPattern, headers: try wait.headers.map { ($0.name, try $0.value.render(scope)) }),
                    link: wait.link, source: source, timeout: wait.timeout)
            case .httpGet(let check):
                action = .httpGet(
                    url: try check.url.render(scope), session: check.session, email: try check.email?.render(scope),
                    status: check.status, contains: try check.contains.map { try $0.render(scope) },
                    headers: try check.headers.map { ($0.name, try $0.value.render(scope)) })
            }
            return PlannedStep(step: step, action: action)
        }
        return HostPlan(host: host, steps: steps, secrets: secrets)
    }
}

extension PlaybookStep.Action {
    /// The wait_for_email registration an http_get follows (`url_from`), if any.
    var registeredURL: String? {
        if case .httpGet(let check) = self { return check.urlFrom }
        return nil
    }
}
