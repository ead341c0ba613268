// `${NAME}` and `${NAME:-default}` expansion as python-dotenv's variables.py and resolve_variables do.
import SSH

/// A key compared code point by code point, as Python compares `str` (Swift's `String` would treat
/// canonically equivalent spellings as one key).
struct ExactKey: Hashable, Sendable {
    let scalars: [Unicode.Scalar]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }
}

/// How large `${NAME}` expansion may make the values. python-dotenv has no bound, so an 870-byte
/// file of doubling `V2=${V1}${V1}` lines would need gigabytes; stagefix refuses such a file (65)
/// before building the value that would cross a bound.
public struct EnvExpansionLimits: Sendable, Equatable {
    /// One value, expanded, in UTF-8 bytes.
    public var bytesPerValue: Int
    /// Every value of the file together.
    public var totalBytes: Int

    public init(bytesPerValue: Int, totalBytes: Int) {
        self.bytesPerValue = bytesPerValue
        self.totalBytes = totalBytes
    }

    public static let standard = EnvExpansionLimits(bytesPerValue: 1 << 20, totalBytes: 8 << 20)
}

/// A value whose expansion would cross a bound: which key, on which line, and which bound.
public struct EnvValueTooLarge: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Bound: Sendable, Equatable {
        case value(Int), file(Int)
    }

    public var key: String
    public var line: Int
    public var bound: Bound

    public var description: String {
        switch bound {
        case let .value(limit):
            return "line \(line): the value of \(key) expands (${...}) to more than \(ByteCount(limit)), stagefix's bound for one value"
        case let .file(limit):
            return "line \(line): with \(key), the values expand (${...}) to more than \(ByteCount(limit)) in all, stagefix's bound for one env file"
        }
    }
}

enum DotEnvInterpolation {
    /// A binding to resolve: `line` is only for saying where a bound was crossed.
    typealias Binding = (key: String, value: String?, line: Int)

    /// `resolve_variables(values, override=True)`: each value sees the environment overlaid with the
    /// values before it in the file; a key's later duplicate replaces the value but keeps its place.
    static func resolve(_ bindings: [Binding], environment: [String: String], limits: EnvExpansionLimits = .standard) throws(EnvValueTooLarge) -> [(key: String, value: String?)] {
        var environmentByKey: [ExactKey: String] = [:]
        for (name, value) in environment {
            environmentByKey[ExactKey(name)] = value
        }
        var resolved: [(key: String, value: String?)] = []
        var indexByKey: [ExactKey: Int] = [:]
        var totalBytes = 0
        for binding in bindings {
            var value: String?
            if let raw = binding.value {
                let expanded = expand(raw, limit: limits.bytesPerValue) { name, fallback in
                    let exactName = ExactKey(name)
                    if let index = indexByKey[exactName] {
                        return resolved[index].value ?? ""
                    }
                    return environmentByKey[exactName] ?? fallback ?? ""
                }
                guard let expanded else { throw EnvValueTooLarge(key: binding.key, line: binding.line, bound: .value(limits.bytesPerValue)) }
                value = expanded
            }
            let key = ExactKey(binding.key)
            if let index = indexByKey[key] {
                totalBytes -= resolved[index].value?.utf8.count ?? 0
                resolved[index].value = value
            } else {
                indexByKey[key] = resolved.count
                resolved.append((binding.key, value))
            }
            totalBytes += value?.utf8.count ?? 0
            guard totalBytes <= limits.totalBytes else {
                throw EnvValueTooLarge(key: binding.key, line: binding.line, bound: .file(limits.totalBytes))
            }
        }
        return resolved
    }

    /// Replaces each match of `\$\{([^\}:]*)(?::-([^\}]*))?\}`, left to right, by `lookup(name, default)`.
    /// The replacement is not expanded again. Nil, before anything larger is built, when the result
    /// would exceed `limit` UTF-8 bytes.
    static func expand(_ value: String, limit: Int = .max, lookup: (_ name: String, _ fallback: String?) -> String) -> String? {
        let scalars = Array(value.unicodeScalars)
        var result = String.UnicodeScalarView()
        var size = 0
        func fits(_ bytes: Int) -> Bool {
            guard bytes <= limit - size else { return false }
            size += bytes
            return true
        }
        var index = 0
        while index < scalars.count {
            if let reference = reference(in: scalars, at: index) {
                let replacement = lookup(reference.name, reference.fallback)
                guard fits(replacement.utf8.count) else { return nil }
                result.append(contentsOf: replacement.unicodeScalars)
                index = reference.end
            } else {
                guard fits(UTF8.width(scalars[index])) else { return nil }
                result.append(scalars[index])
                index += 1
            }
        }
        return String(result)
    }

    private static func reference(in scalars: [Unicode.Scalar], at start: Int) -> (name: String, fallback: String?, end: Int)? {
        guard start + 1 < scalars.count, scalars[start] == "$", scalars[start + 1] == "{" else { return nil }
        let nameStart = start + 2
        var nameEnd = nameStart
        while nameEnd < scalars.count, scalars[nameEnd] != "}", scalars[nameEnd] != ":" {
            nameEnd += 1
        }
        guard nameEnd < scalars.count else { return nil }
        let name = text(scalars[nameStart..<nameEnd])
        if scalars[nameEnd] == "}" {
            return (name, nil, nameEnd + 1)
        }
        // A `:` not followed by `-` and a closing brace matches nothing: the name cannot hold a `:`.
        guard nameEnd + 1 < scalars.count, scalars[nameEnd + 1] == "-" else { return nil }
        var fallbackEnd = nameEnd + 2
        while fallbackEnd < scalars.count, scalars[fallbackEnd] != "}" {
            fallbackEnd += 1
        }
        guard fallbackEnd < scalars.count else { return nil }
        return (name, text(scalars[(nameEnd + 2)..<fallbackEnd]), fallbackEnd + 1)
    }

    private static func text(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        String(String.UnicodeScalarView(scalars))
    }
}
