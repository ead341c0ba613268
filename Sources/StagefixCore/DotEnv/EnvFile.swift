// A site's `.env` file as python-dotenv 1.x reads it (`dotenv_values(path)`), with its original text kept for editing.

/// A `.env` file parsed exactly as python-dotenv 1.x's `dotenv_values(path)` parses it.
///
/// python-dotenv's quirks are kept on purpose, because the Django site reads the file with it:
/// - `\r\n` and a lone `\r` count as `\n` (Python opens the file in text mode).
/// - A UTF-8 byte order mark is not skipped: it becomes part of the first key (`"\u{FEFF}KEY"`).
/// - `${NAME}` is expanded in every value, single-quoted ones too; file values win over `environment`.
/// - `\\` and `\'` are escapes inside single quotes as well as double quotes.
/// - A statement it cannot parse is skipped and reported in `problems`, with python-dotenv's line number.
public struct EnvFile: Sendable {
    /// The text as given, kept byte for byte for `setting(_:to:)`.
    public let text: String
    /// The process environment `${NAME}` falls back on: on the server, the one Django would see.
    public let environment: [String: String]
    /// Every `KEY` statement in file order, duplicates included.
    public let bindings: [EnvBinding]
    /// What `dotenv_values` returns: each key once, where it first appears, with its last value, expanded.
    public let entries: [EnvEntry]
    /// The statements python-dotenv skips with a warning.
    public let problems: [EnvFileProblem]

    /// Where each binding sits in `text`, for editing: parallel to `bindings`.
    let locations: [BindingLocation]

    /// Parses `text`; `environment` stands in for `os.environ` when `${NAME}` is expanded.
    public init(parsing text: String, environment: [String: String] = [:], limits: EnvExpansionLimits = .standard) {
        self.text = text
        self.environment = environment
        let newlines = UniversalNewlines(Array(text.unicodeScalars))
        var reader = DotEnvReader(text: newlines.normalized)
        var bindings: [EnvBinding] = []
        var locations: [BindingLocation] = []
        var problems: [EnvFileProblem] = []
        for statement in reader.readAll() {
            switch statement.content {
            case .binding(let raw):
                bindings.append(EnvBinding(key: raw.key, value: raw.value, line: statement.textLine, lastLine: statement.lastLine, isExported: raw.isExported))
                locations.append(BindingLocation(keyEnd: newlines.originalIndex[raw.keyEnd], value: raw.valueRange.map(newlines.original)))
            case .unparseable:
                problems.append(EnvFileProblem(reportedLine: statement.reportedLine, firstLine: statement.textLine, lastLine: statement.lastLine))
            case .nothing, .comment:
                break
            }
        }
        self.bindings = bindings
        self.locations = locations
        self.problems = problems
        do {
            entries = try DotEnvInterpolation.resolve(bindings.map { ($0.key, $0.value, $0.line) }, environment: environment, limits: limits)
                .map { EnvEntry(key: $0.key, value: $0.value) }
            oversizedValue = nil
        } catch {
            // No values at all from such a file: a partial one could start Django half-configured.
            entries = []
            oversizedValue = error
        }
    }

    /// Set when `${...}` expansion would cross `limits` (then `entries` is empty): python-dotenv
    /// would try to build it, stagefix refuses the file.
    public let oversizedValue: EnvValueTooLarge?

    /// Parses UTF-8 bytes as python-dotenv does (`encoding="utf-8"`): anything else is refused.
    public init(utf8 bytes: some Collection<UInt8>, environment: [String: String] = [:]) throws(EnvFileDecodingError) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw EnvFileDecodingError.notUTF8 }
        self.init(parsing: text, environment: environment)
    }

    /// The keys that have a value, expanded: what `load_dotenv` would put in `os.environ`.
    /// A bare `KEY` (value `None` in python-dotenv) is left out.
    public var values: [String: String] {
        var values: [String: String] = [:]
        for entry in entries {
            if let value = entry.value {
                values[entry.key] = value
            }
        }
        return values
    }

    /// The expanded value of `key`; nil when it is absent or bare.
    public func value(of key: String) -> String? {
        entry(of: key)?.value
    }

    /// The entry for `key`, compared code point by code point as Python does.
    public func entry(of key: String) -> EnvEntry? {
        let exactKey = ExactKey(key)
        return entries.first { ExactKey($0.key) == exactKey }
    }
}

/// One `KEY` or `KEY=value` statement as written.
public struct EnvBinding: Sendable, Equatable {
    public let key: String
    /// Unquoted and unescaped but not yet `${...}`-expanded; nil for a bare `KEY` without `=`.
    public let value: String?
    /// The 1-based line where the statement begins.
    public let line: Int
    /// The line where it ends: later than `line` when a quoted value spans lines.
    public let lastLine: Int
    /// Whether it begins with `export `.
    public let isExported: Bool

    public init(key: String, value: String?, line: Int, lastLine: Int, isExported: Bool) {
        self.key = key
        self.value = value
        self.line = line
        self.lastLine = lastLine
        self.isExported = isExported
    }
}

/// One key of the file's final values, as `dotenv_values` has it.
public struct EnvEntry: Sendable, Equatable {
    public let key: String
    /// The expanded value; nil for a bare `KEY`, which python-dotenv keeps as `None`.
    public let value: String?

    public init(key: String, value: String?) {
        self.key = key
        self.value = value
    }
}

/// A statement python-dotenv cannot parse: it logs a warning, skips it and carries on.
public struct EnvFileProblem: Sendable, Equatable, CustomStringConvertible {
    /// The line python-dotenv's warning names. It counts from the end of the previous statement,
    /// so blank lines before the bad one make it smaller than `firstLine`.
    public let line: Int
    /// The 1-based lines the skipped text spans: where it begins and where python-dotenv resumes after.
    public let firstLine: Int
    public let lastLine: Int
    public let message: String

    init(reportedLine: Int, firstLine: Int, lastLine: Int) {
        line = reportedLine
        self.firstLine = firstLine
        self.lastLine = max(firstLine, lastLine)
        let span = self.lastLine > firstLine ? "lines \(firstLine)-\(self.lastLine)" : "line \(firstLine)"
        message = "python-dotenv cannot parse \(span) and skips it (it logs \"could not parse statement starting at line \(reportedLine)\")"
    }

    public var description: String { message }
}

public enum EnvFileDecodingError: Error, Equatable, CustomStringConvertible {
    /// python-dotenv reads the file as UTF-8 and would fail on it.
    case notUTF8

    public var description: String {
        switch self {
        case .notUTF8: "the env file is not valid UTF-8, which python-dotenv requires"
        }
    }
}

/// Where a binding sits in the original text, in Unicode scalar offsets.
struct BindingLocation: Sendable {
    /// Just after the key: where `=value` goes when the binding has none.
    var keyEnd: Int
    /// The value as written, quotes included, without a trailing comment or whitespace.
    var value: Range<Int>?
}
