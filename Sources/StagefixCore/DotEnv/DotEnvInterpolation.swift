// `${NAME}` and `${NAME:-default}` expansion as python-dotenv's variables.py and resolve_variables do.

/// A key compared code point by code point, as Python compares `str` (Swift's `String` would treat
/// canonically equivalent spellings as one key).
struct ExactKey: Hashable, Sendable {
    let scalars: [Unicode.Scalar]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }
}

enum DotEnvInterpolation {
    /// `resolve_variables(values, override=True)`: each value sees the environment overlaid with the
    /// values before it in the file; a key's later duplicate replaces the value but keeps its place.
    static func resolve(_ bindings: [(key: String, value: String?)], environment: [String: String]) -> [(key: String, value: String?)] {
        var environmentByKey: [ExactKey: String] = [:]
        for (name, value) in environment {
            environmentByKey[ExactKey(name)] = value
        }
        var resolved: [(key: String, value: String?)] = []
        var indexByKey: [ExactKey: Int] = [:]
        for binding in bindings {
            let value = binding.value.map { raw in
                expand(raw) { name, fallback in
                    let exactName = ExactKey(name)
                    if let index = indexByKey[exactName] {
                        return resolved[index].value ?? ""
                    }
                    return environmentByKey[exactName] ?? fallback ?? ""
                }
            }
            let key = ExactKey(binding.key)
            if let index = indexByKey[key] {
                resolved[index].value = value
            } else {
                indexByKey[key] = resolved.count
                resolved.append((binding.key, value))
            }
        }
        return resolved
    }

    /// Replaces each match of `\$\{([^\}:]*)(?::-([^\}]*))?\}`, left to right, by `lookup(name, default)`.
    /// The replacement is not expanded again.
    static func expand(_ value: String, lookup: (_ name: String, _ fallback: String?) -> String) -> String {
        let scalars = Array(value.unicodeScalars)
        var result = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if let reference = reference(in: scalars, at: index) {
                result.append(contentsOf: lookup(reference.name, reference.fallback).unicodeScalars)
                index = reference.end
            } else {
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
