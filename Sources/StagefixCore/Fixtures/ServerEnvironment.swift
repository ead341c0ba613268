// The site's env file as read from the server: its text, its values in file order, its bad lines.
import SSH

public struct ServerEnvironment: Sendable {
    /// Where it was read from, as configured (`~/sites/HOST/.env`).
    public var path: String
    public var text: String
    /// Resolved values, in first-appearance order, last assignment winning (python-dotenv's dict).
    public var values: [(key: String, value: String)]
    /// Lines python-dotenv would skip, with why.
    public var problems: [(line: Int, message: String)]

    public func value(for key: String) -> String? {
        values.last(where: { $0.key == key })?.value
    }

    /// Masks this env's secrets (by key, by shape, URL passwords) wherever they would be shown.
    public var redactor: Redactor { Redactor(environment: values) }

    /// The parsed file, kept for editing (`env set`).
    public let file: EnvFile

    public init(path: String, text: String) {
        self.path = path
        self.text = text
        // The server's own process environment is not ours to read: `${VAR}` sees the file only.
        file = EnvFile(parsing: text, environment: [:])
        values = file.entries.compactMap { entry in entry.value.map { (key: entry.key, value: $0) } }
        problems = file.problems.map { (line: $0.firstLine, message: $0.message) }
        if let oversized = file.oversizedValue {
            problems.append((line: oversized.line, message: "\(oversized.key) expands past stagefix's bound (\(oversized)); no value of this file is used"))
        }
    }

    /// A refusal (65) for a file whose `${...}` expansion crossed a bound (it then has no values).
    public func refusalIfOversized() -> StagefixError? {
        file.oversizedValue.map { StagefixError.invalidData("\(path) \($0); stagefix refuses the file") }
    }

    /// The env when it can be used as written; 65 naming the key and line when its expansion is too large.
    public func checkedForUse() throws -> ServerEnvironment {
        if let refusal = refusalIfOversized() { throw refusal }
        return self
    }
}
