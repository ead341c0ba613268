// `{{ var }}` strings in playbooks: parsed once (positions kept), rendered per host.
import SSH

/// A place in a playbook file, for errors a person can jump to.
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public var description: String { "\(file):\(line):\(column)" }
}

/// A variable's value: playbooks have strings and lists of strings (emails, arguments).
public enum VariableValue: Sendable, Equatable {
    case string(String)
    case list([String])

    var words: [String] {
        switch self {
        case .string(let value): return [value]
        case .list(let values): return values
        }
    }
}

/// A string with `{{ name }}` and `{{ name | quote }}` holes.
public struct Template: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case literal(String)
        /// `quote`: shell-quoted when rendered (for `exec` commands built from vars).
        case variable(name: String, quote: Bool)
    }

    let parts: [Part]
    public let position: SourcePosition
    public let source: String

    /// The names used, in order.
    public var variables: [String] {
        parts.compactMap { part in
            if case let .variable(name, _) = part { return name }
            return nil
        }
    }

    /// The template is exactly one variable (`"{{ users }}"`): in a list field a list var expands.
    var soleVariable: String? {
        if parts.count == 1, case let .variable(name, false) = parts[0] { return name }
        return nil
    }

    public init(_ text: String, position: SourcePosition) throws {
        source = text
        self.position = position
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw PlaybookError(position, "unclosed `{{` in \"\(text)\"; write `{{ name }}`")
            }
            let inside = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            let pieces = inside.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let name = pieces[0]
            guard Template.isName(name) else {
                throw PlaybookError(position, "`{{ \(inside) }}` is not a variable; use letters, digits and _ (e.g. `{{ users }}`)")
            }
            var quote = false
            if pieces.count == 2, pieces[1] == "quote" {
                quote = true
            } else if pieces.count > 1 {
                throw PlaybookError(position, "unknown filter in `{{ \(inside) }}`; the only filter is `quote`")
            }
            parts.append(.variable(name: name, quote: quote))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
    }

    static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || first.isASCIILetter else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || $0.isASCIILetter || ("0"..."9").contains($0) }
    }

    /// The text with every variable filled in. A list inside a longer string is an error.
    public func render(_ values: [String: VariableValue]) throws -> String {
        var result = ""
        for part in parts {
            switch part {
            case .literal(let text):
                result += text
            case let .variable(name, quote):
                guard let value = values[name] else { throw PlaybookError(position, "unknown variable `\(name)`") }
                switch value {
                case .string(let text):
                    result += quote ? ShellQuoting.quote(text) : text
                case .list(let items):
                    if quote {
                        result += items.map(ShellQuoting.quote).joined(separator: " ")
                    } else {
                        throw PlaybookError(position, "`\(name)` is a list; use it alone (\"{{ \(name) }}\") in a list field, or `{{ \(name) | quote }}` in a command")
                    }
                }
            }
        }
        return result
    }

    /// As `render`, but a template that is exactly one list variable gives its items.
    public func renderWords(_ values: [String: VariableValue]) throws -> [String] {
        if let name = soleVariable, case .list(let items)? = values[name] { return items }
        return [try render(values)]
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

/// A playbook that cannot run as written: exit 65 with `file:line:column` and what was expected.
public struct PlaybookError: Error, Sendable, CustomStringConvertible {
    public var position: SourcePosition?
    public var message: String

    public init(_ position: SourcePosition?, _ message: String) {
        self.position = position
        self.message = message
    }

    public var description: String { position.map { "\($0): \(message)" } ?? message }
}
