// Reads a playbook's YAML into a checked `Playbook`: every error names file:line:column and what
// was expected, before anything connects.
import Foundation
import Yams

public enum PlaybookParser {
    public static let stepKinds = ["flush", "create_session", "env_set", "env_ensure", "manage", "exec", "check", "http_get", "mail_reset", "wait_for_email"]
    /// Names every playbook can use without declaring them.
    public static let builtinVariables = ["host"]

    public static func load(path: String) throws -> Playbook {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlaybookError(nil, "playbook \(path) does not exist or cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PlaybookError(SourcePosition(file: path, line: 1, column: 1), "not UTF-8 text")
        }
        return try parse(yaml: text, path: path)
    }

    public static func parse(yaml: String, path: String) throws -> Playbook {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw PlaybookError(SourcePosition(file: path, line: 1, column: 1), "the playbook is empty; it needs at least `steps:`") }
            root = node
        } catch let error as YamlError {
            throw PlaybookError(yamlPosition(error, path: path), "not valid YAML: \(yamlMessage(error))")
        }
        let reader = NodeReader(path: path)
        let top = try reader.mapping(root, "the playbook", allowed: ["name", "description", "hosts", "vars", "steps"])

        var variables: [PlaybookVariable] = []
        if let node = top["vars"] {
            for (key, value) in try reader.entries(node, "vars") {
                variables.append(try variable(key, value, reader))
            }
        }
        let declared = Set(variables.map(\.name))
        if let clash = variables.first(where: { builtinVariables.contains($0.name) }) {
            throw PlaybookError(clash.position, "`\(clash.name)` is built in (the target host's name); choose another var name")
        }

        var hosts: [Template] = []
        if let node = top["hosts"] {
            hosts = try reader.templates(node, "hosts")
        }
        guard let stepsNode = top["steps"] else {
            throw PlaybookError(reader.position(root), "the playbook has no `steps:`; add a list of steps (one of \(stepKinds.joined(separator: ", ")))")
        }
        guard case let .sequence(items) = stepsNode, !items.isEmpty else {
            throw PlaybookError(reader.position(stepsNode), "`steps` must be a non-empty list of steps")
        }
        var steps: [PlaybookStep] = []
        var registered: [String: PlaybookStep.Action] = [:]
        for (offset, item) in items.enumerated() {
            let step = try self.step(item, index: offset + 1, reader: reader)
            if case .httpGet(let check) = step.action, let name = check.session {
                guard case .createSession? = registered[name] else {
                    throw PlaybookError(step.position, "step \(step.index) (http_get): session `\(name)` is not registered by an earlier create_session step (`register: \(name)`)")
                }
            }
            if case .httpGet(let check) = step.action, let name = check.urlFrom {
                guard case .waitForEmail? = registered[name] else {
                    throw PlaybookError(step.position, "step \(step.index) (http_get): `url_from: \(name)` is not registered by an earlier wait_for_email step")
                }
            }
            if let name = step.register {
                guard registered[name] == nil, !declared.contains(name), !builtinVariables.contains(name) else {
                    throw PlaybookError(step.position, "step \(step.index): `register: \(name)` is already used by a var or an earlier step")
                }
                registered[name] = step.action
            }
            steps.append(step)
        }

        let playbook = Playbook(
            path: path, name: try top["name"].map { try reader.scalar($0, "name") } ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension,
            description: try top["description"].map { try reader.scalar($0, "description") },
            hosts: hosts, variables: variables, steps: steps)
        try checkVariables(playbook)
        return playbook
    }

    /// Every `{{ name }}` must be a declared var or built in: an unknown one is an error now, not mid-run.
    static func checkVariables(_ playbook: Playbook) throws {
        let known = Set(playbook.variables.map(\.name) + builtinVariables)
        for template in templates(of: playbook) {
            if let unknown = template.variables.first(where: { !known.contains($0) }) {
                let hint = playbook.variables.isEmpty ? "declare it under `vars:`" : "declared vars: \(playbook.variables.map(\.name).joined(separator: ", "))"
                throw PlaybookError(template.position, "unknown variable `{{ \(unknown) }}`; \(hint) (or use `host`)")
            }
        }
    }

    static func templates(of playbook: Playbook) -> [Template] {
        var all = playbook.hosts
        for step in playbook.steps {
            switch step.action {
            case .flush, .check: break
            case .createSession(let emails): all += emails
            case .envSet(let assignments, _):
                for assignment in assignments { if case .value(let template) = assignment.source { all.append(template) } }
            case .manage(let arguments): all += arguments
            case .exec(let command): all.append(command)
            case .httpGet(let check): all += [check.url] + (check.email.map { [$0] } ?? []) + check.contains + check.headers.map(\.value)
            case .mailReset(let source): all += source.map { [$0] } ?? []
            case .waitForEmail(let wait): all += [wait.to] + [wait.subject, wait.source].compactMap { $0 } + wait.headers.map(\.value)
            }
        }
        return all
    }

    private static func variable(_ key: Node, _ value: Node, _ reader: NodeReader) throws -> PlaybookVariable {
        let name = try reader.scalar(key, "vars")
        let position = reader.position(key)
        guard Template.isName(name) else { throw PlaybookError(position, "var name `\(name)` must be letters, digits and _") }
        switch value {
        case .scalar(let scalar):
            return PlaybookVariable(name: name, kind: .string, defaultValue: .string(scalar.string), description: nil, position: position)
        case .sequence:
            return PlaybookVariable(name: name, kind: .list, defaultValue: .list(try reader.strings(value, "vars.\(name)")), description: nil, position: position)
        case .mapping:
            let fields = try reader.mapping(value, "vars.\(name)", allowed: ["default", "required", "description", "type"])
            var kind = PlaybookVariable.Kind.string
            if let typeNode = fields["type"] {
                let text = try reader.scalar(typeNode, "vars.\(name).type")
                guard let parsed = PlaybookVariable.Kind(rawValue: text) else { throw PlaybookError(reader.position(typeNode), "vars.\(name).type must be string or list, not `\(text)`") }
                kind = parsed
            }
            var defaultValue: VariableValue?
            if let node = fields["default"] {
                if case .sequence = node {
                    defaultValue = .list(try reader.strings(node, "vars.\(name).default"))
                    if fields["type"] == nil { kind = .list }
                } else {
                    let text = try reader.scalar(node, "vars.\(name).default")
                    defaultValue = kind == .list ? .list(VariableValues.splitList(text)) : .string(text)
                }
            }
            if let node = fields["required"] {
                let required = try reader.bool(node, "vars.\(name).required")
                if required && defaultValue != nil { throw PlaybookError(reader.position(node), "vars.\(name): a required var has no default; drop one of them") }
                if !required && defaultValue == nil { defaultValue = kind == .list ? .list([]) : .string("") }
            } else if defaultValue == nil {
                throw PlaybookError(position, "vars.\(name) needs `default:` or `required: true`")
            }
            return PlaybookVariable(name: name, kind: kind, defaultValue: defaultValue, description: try fields["description"].map { try reader.scalar($0, "vars.\(name).description") }, position: position)
        default:
            throw PlaybookError(position, "vars.\(name) must be a value, a list, or a mapping with default/required/description/type")
        }
    }

    private static func step(_ node: Node, index: Int, reader: NodeReader) throws -> PlaybookStep {
        let position = reader.position(node)
        let fields = try reader.mapping(node, "step \(index)", allowed: Set(stepKinds + ["name", "register"]))
        let kinds = stepKinds.filter { fields[$0] != nil }
        guard kinds.count == 1, let kind = kinds.first, let body = fields[kind] else {
            throw PlaybookError(position, kinds.isEmpty
                ? "step \(index) has no action; give exactly one of: \(stepKinds.joined(separator: ", "))"
                : "step \(index) has several actions (\(kinds.joined(separator: ", "))); give one per step")
        }
        let at = "step \(index) (\(kind))"
        var register: String?
        if let node = fields["register"] {
            let name = try reader.scalar(node, "\(at).register")
            guard ["create_session", "manage", "exec", "http_get", "wait_for_email"].contains(kind) else {
                throw PlaybookError(reader.position(node), "\(at): only create_session, manage, exec, http_get and wait_for_email steps can `register`")
            }
            guard Template.isName(name) else { throw PlaybookError(reader.position(node), "\(at): register name `\(name)` must be letters, digits and _") }
            register = name
        }
        let action: PlaybookStep.Action
        switch kind {
        case "flush":
            try reader.empty(body, at)
            action = .flush
        case "check":
            try reader.empty(body, at)
            action = .check
        case "create_session":
            if case .mapping = body {
                let options = try reader.mapping(body, at, allowed: ["emails"])
                guard let emails = options["emails"] else { throw PlaybookError(reader.position(body), "\(at) needs `emails:` (a list of addresses or \"{{ var }}\")") }
                action = .createSession(emails: try reader.templates(emails, "\(at).emails"))
            } else {
                action = .createSession(emails: try reader.templates(body, at))
            }
        case "env_set", "env_ensure":
            action = .envSet(try assignments(body, at, reader), onlyWhenMissing: kind == "env_ensure")
        case "manage":
            if case .scalar = body {
                // `manage: migrate --noinput`: words split on spaces (use a list for an argument with spaces).
                let template = try reader.template(body, at)
                action = .manage(try template.source.split(separator: " ").map { try Template(String($0), position: template.position) })
            } else {
                action = .manage(try reader.templates(body, at))
            }
        case "exec":
            action = .exec(try reader.template(body, at))
        case "http_get":
            action = .httpGet(try httpCheck(body, at, reader))
        case "mail_reset":
            if case .mapping = body {
                let options = try reader.mapping(body, at, allowed: ["source"])
                action = .mailReset(source: try options["source"].map { try reader.template($0, "\(at).source") })
            } else {
                try reader.empty(body, at)
                action = .mailReset(source: nil)
            }
        case "wait_for_email":
            action = .waitForEmail(try emailWait(body, at, reader))
        default:
            fatalError("step kinds are listed in stepKinds")
        }
        if case .createSession(let emails) = action, emails.isEmpty {
            throw PlaybookError(reader.position(body), "\(at) needs at least one email")
        }
        if case .manage(let arguments) = action, arguments.isEmpty {
            throw PlaybookError(reader.position(body), "\(at) needs the management command, e.g. `manage: [migrate, --noinput]`")
        }
        return PlaybookStep(index: index, label: try fields["name"].map { try reader.scalar($0, "\(at).name") }, action: action, register: register, position: position)
    }

    private static func assignments(_ node: Node, _ at: String, _ reader: NodeReader) throws -> [EnvAssignment] {
        let entries = try reader.entries(node, at)
        guard !entries.isEmpty else { throw PlaybookError(reader.position(node), "\(at) needs at least one KEY: value") }
        return try entries.map { key, value in
            let name = try reader.scalar(key, at)
            let position = reader.position(key)
            guard EnvFile.isValidKey(name) else { throw PlaybookError(position, "\(at): `\(name)` is not a valid env key; use letters, digits and _") }
            switch value {
            case .scalar:
                return EnvAssignment(key: name, source: .value(try reader.template(value, "\(at).\(name)")), position: position)
            case .mapping:
                let fields = try reader.mapping(value, "\(at).\(name)", allowed: ["value", "from_local", "generate"])
                guard fields.count == 1 else { throw PlaybookError(reader.position(value), "\(at).\(name): give exactly one of value, from_local, generate") }
                if let node = fields["value"] { return EnvAssignment(key: name, source: .value(try reader.template(node, "\(at).\(name).value")), position: position) }
                if let node = fields["from_local"] {
                    let variable = try reader.scalar(node, "\(at).\(name).from_local")
                    guard EnvFile.isValidKey(variable) else { throw PlaybookError(reader.position(node), "\(at).\(name).from_local: `\(variable)` is not an environment variable name") }
                    return EnvAssignment(key: name, source: .fromLocal(variable), position: position)
                }
                let node = fields["generate"]!
                guard try reader.bool(node, "\(at).\(name).generate") else { throw PlaybookError(reader.position(node), "\(at).\(name): `generate: false` means nothing; drop the key or say true") }
                return EnvAssignment(key: name, source: .generate, position: position)
            default:
                throw PlaybookError(reader.position(value), "\(at).\(name) must be a value or one of {value: ...}, {from_local: VAR}, {generate: true}")
            }
        }
    }

    private static func emailWait(_ node: Node, _ at: String, _ reader: NodeReader) throws -> EmailWait {
        let fields = try reader.mapping(node, at, allowed: ["to", "subject", "subject_regex", "headers", "link", "source", "timeout"])
        guard let to = fields["to"] else { throw PlaybookError(reader.position(node), "\(at) needs `to:` (the recipient)") }
        var headers: [(String, Template)] = []
        if let node = fields["headers"] {
            for (key, value) in try reader.entries(node, "\(at).headers") {
                headers.append((try reader.scalar(key, "\(at).headers"), try reader.template(value, "\(at).headers")))
            }
        }
        for key in ["subject_regex", "link"] {
            if let node = fields[key], (try? NSRegularExpression(pattern: try reader.scalar(node, "\(at).\(key)"))) == nil {
                throw PlaybookError(reader.position(node), "\(at).\(key) is not a valid regular expression")
            }
        }
        var timeout: Double?
        if let node = fields["timeout"] {
            let text = try reader.scalar(node, "\(at).timeout")
            guard let seconds = Double(text), seconds > 0 else { throw PlaybookError(reader.position(node), "\(at).timeout must be a positive number of seconds, not `\(text)`") }
            timeout = seconds
        }
        return EmailWait(
            to: try reader.template(to, "\(at).to"), subject: try fields["subject"].map { try reader.template($0, "\(at).subject") },
            subjectPattern: try fields["subject_regex"].map { try reader.scalar($0, "\(at).subject_regex") }, headers: headers,
            link: try fields["link"].map { try reader.scalar($0, "\(at).link") }, source: try fields["source"].map { try reader.template($0, "\(at).source") },
            timeout: timeout)
    }

    private static func httpCheck(_ node: Node, _ at: String, _ reader: NodeReader) throws -> HTTPCheck {
        if case .scalar = node {
            return HTTPCheck(url: try reader.template(node, at), urlFrom: nil, session: nil, email: nil, status: 200, contains: [], headers: [])
        }
        let fields = try reader.mapping(node, at, allowed: ["url", "url_from", "session", "email", "status", "contains", "headers"])
        guard (fields["url"] == nil) != (fields["url_from"] == nil) else { throw PlaybookError(reader.position(node), "\(at) needs `url:` or `url_from:` (a link registered by wait_for_email), not both") }
        let url = fields["url"] ?? Node.scalar(.init(""))
        var status = 200
        if let statusNode = fields["status"] {
            let text = try reader.scalar(statusNode, "\(at).status")
            guard let code = Int(text), (100...599).contains(code) else { throw PlaybookError(reader.position(statusNode), "\(at).status must be an HTTP status code (100-599), not `\(text)`") }
            status = code
        }
        var contains: [Template] = []
        if let node = fields["contains"] { contains = try reader.templates(node, "\(at).contains") }
        var headers: [(String, Template)] = []
        if let node = fields["headers"] {
            for (key, value) in try reader.entries(node, "\(at).headers") {
                headers.append((try reader.scalar(key, "\(at).headers"), try reader.template(value, "\(at).headers")))
            }
        }
        let session = try fields["session"].map { try reader.scalar($0, "\(at).session") }
        if fields["email"] != nil && session == nil { throw PlaybookError(reader.position(fields["email"]!), "\(at): `email` picks one of a session's users; give `session:` too") }
        return HTTPCheck(
            url: try reader.template(url, "\(at).url"), urlFrom: try fields["url_from"].map { try reader.scalar($0, "\(at).url_from") }, session: session, email: try fields["email"].map { try reader.template($0, "\(at).email") },
            status: status, contains: contains, headers: headers)
    }

    private static func yamlPosition(_ error: YamlError, path: String) -> SourcePosition? {
        switch error {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
            return SourcePosition(file: path, line: mark.line, column: mark.column)
        default:
            return SourcePosition(file: path, line: 1, column: 1)
        }
    }

    private static func yamlMessage(_ error: YamlError) -> String {
        switch error {
        case let .scanner(_, problem, _, _), let .parser(_, problem, _, _), let .composer(_, problem, _, _):
            return problem
        default:
            return String(describing: error)
        }
    }
}

/// YAML nodes read with their positions; every wrong shape says what was expected.
struct NodeReader {
    let path: String

    func position(_ node: Node) -> SourcePosition {
        SourcePosition(file: path, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    func entries(_ node: Node, _ at: String) throws -> [(Node, Node)] {
        guard case let .mapping(mapping) = node else { throw PlaybookError(position(node), "\(at) must be a mapping (KEY: value lines)") }
        var seen = Set<String>()
        return try mapping.map { key, value in
            let name = try scalar(key, at)
            guard seen.insert(name).inserted else { throw PlaybookError(position(key), "\(at): `\(name)` is given twice") }
            return (key, value)
        }
    }

    func mapping(_ node: Node, _ at: String, allowed: Set<String>) throws -> [String: Node] {
        guard case .mapping = node else {
            throw PlaybookError(position(node), "\(at) must be a mapping with keys \(allowed.sorted().joined(separator: ", "))")
        }
        var result: [String: Node] = [:]
        for (key, value) in try entries(node, at) {
            let name = try scalar(key, at)
            guard allowed.contains(name) else {
                throw PlaybookError(position(key), "unknown key `\(name)` in \(at); expected one of: \(allowed.sorted().joined(separator: ", "))")
            }
            result[name] = value
        }
        return result
    }

    func scalar(_ node: Node, _ at: String) throws -> String {
        guard case let .scalar(scalar) = node else { throw PlaybookError(position(node), "\(at) must be a single value, not a \(shape(node))") }
        return scalar.string
    }

    func bool(_ node: Node, _ at: String) throws -> Bool {
        switch try scalar(node, at).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let other: throw PlaybookError(position(node), "\(at) must be true or false, not `\(other)`")
        }
    }

    func template(_ node: Node, _ at: String) throws -> Template {
        try Template(try scalar(node, at), position: position(node))
    }

    func strings(_ node: Node, _ at: String) throws -> [String] {
        guard case let .sequence(items) = node else { throw PlaybookError(position(node), "\(at) must be a list") }
        return try items.map { try scalar($0, at) }
    }

    /// A list of templates, or one scalar (which may be a list var: `"{{ users }}"`).
    func templates(_ node: Node, _ at: String) throws -> [Template] {
        switch node {
        case .scalar: return [try template(node, at)]
        case .sequence(let items): return try items.map { try template($0, at) }
        default: throw PlaybookError(position(node), "\(at) must be a value or a list of values, not a mapping")
        }
    }

    /// `flush:`, `flush: {}` and `flush: true` all mean "do it".
    func empty(_ node: Node, _ at: String) throws {
        switch node {
        case .mapping(let mapping) where mapping.isEmpty: return
        case .scalar(let scalar) where ["", "~", "null", "true", "yes"].contains(scalar.string.lowercased()): return
        default: throw PlaybookError(position(node), "\(at) takes no options; write `- \(at.split(separator: "(").last?.dropLast() ?? ""): {}`")
        }
    }

    private func shape(_ node: Node) -> String {
        switch node {
        case .mapping: return "mapping"
        case .sequence: return "list"
        default: return "value"
        }
    }
}
