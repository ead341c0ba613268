// `env set`: a new text for the file with one key changed and every other byte left as it was.

extension EnvFile {
    /// The file's text with `key` set to `value`, as python-dotenv will read it.
    ///
    /// - The last binding of `key` (the one that wins) gets the new value in place: its `export `,
    ///   its key spelling and any inline comment stay. Earlier duplicates are left alone: they are
    ///   already overridden, and a `${KEY}` between them still sees the value it saw before.
    ///   (python-dotenv's own `set_key` rewrites every duplicate and drops their comments.)
    /// - A new key is appended as `KEY=value` with the file's line break, after adding a line
    ///   break if the file does not end with one.
    /// - The value is left bare when that reads back exactly, else single-quoted, else
    ///   double-quoted with escapes; `${` is shielded from expansion (see `DotEnvValueWriting`).
    /// - If `key` already has exactly this value, the text comes back unchanged.
    ///
    /// Every candidate is checked by parsing the new text again: `key` must read back as `value`
    /// (with this file's `environment`) and every other binding as before. When none passes, e.g.
    /// because a quote in the value would close an unterminated quote earlier in the file, it throws.
    public func setting(_ key: String, to value: String) throws(EnvFileEditError) -> String {
        guard Self.isValidKey(key) else { throw EnvFileEditError.invalidKey(key) }
        if let current = entry(of: key)?.value, current.unicodeScalars.elementsEqual(value.unicodeScalars) {
            return text
        }
        let original = Array(text.unicodeScalars)
        let exactKey = ExactKey(key)
        let target = bindings.lastIndex { ExactKey($0.key) == exactKey }
        var affectedLine = 0
        for spelling in DotEnvValueWriting.spellings(of: value) {
            let candidate: String
            if let target {
                candidate = replacingValue(of: target, with: spelling, in: original)
            } else {
                candidate = appending("\(key)=\(spelling)", to: original)
            }
            guard let changedLine = firstLineReadDifferently(in: candidate, key: key, value: value, target: target) else {
                return candidate
            }
            affectedLine = changedLine
        }
        let unparsableLine = problems.last { $0.firstLine <= affectedLine }?.firstLine
        throw EnvFileEditError.wouldChangeOtherLines(key: key, line: affectedLine, unparsableLine: unparsableLine)
    }

    /// Several keys set one after the other, each as `setting(_:to:)` does.
    public func setting(_ assignments: [(key: String, value: String)]) throws(EnvFileEditError) -> String {
        var file = self
        for (key, value) in assignments {
            file = EnvFile(parsing: try file.setting(key, to: value), environment: environment)
        }
        return file.text
    }

    /// Keys `setting` accepts: `[A-Za-z_][A-Za-z0-9_.]*`. python-dotenv reads more, but a key
    /// with spaces, quotes or `=` would need quoting that no Django setting expects.
    public static func isValidKey(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first == "_" || isASCIILetter(first) else { return false }
        return key.unicodeScalars.allSatisfy { $0 == "_" || $0 == "." || isASCIILetter($0) || ("0"..."9").contains($0) }
    }

    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    private func replacingValue(of bindingIndex: Int, with spelling: String, in original: [Unicode.Scalar]) -> String {
        let location = locations[bindingIndex]
        var result = String.UnicodeScalarView()
        if let valueRange = location.value {
            result.append(contentsOf: original[..<valueRange.lowerBound])
            result.append(contentsOf: spelling.unicodeScalars)
            result.append(contentsOf: original[valueRange.upperBound...])
        } else {
            result.append(contentsOf: original[..<location.keyEnd])
            result.append(contentsOf: ("=" + spelling).unicodeScalars)
            result.append(contentsOf: original[location.keyEnd...])
        }
        return String(result)
    }

    private func appending(_ line: String, to original: [Unicode.Scalar]) -> String {
        let lineBreak = Self.lineBreak(of: original)
        var result = String.UnicodeScalarView(original)
        if let last = original.last, last != "\n", last != "\r" {
            result.append(contentsOf: lineBreak.unicodeScalars)
        }
        result.append(contentsOf: (line + lineBreak).unicodeScalars)
        return String(result)
    }

    /// The file's first line break, so an appended line matches: `\r\n`, `\r` or `\n`.
    private static func lineBreak(of original: [Unicode.Scalar]) -> String {
        guard let index = original.firstIndex(where: { $0 == "\n" || $0 == "\r" }) else { return "\n" }
        if original[index] == "\n" { return "\n" }
        return index + 1 < original.count && original[index + 1] == "\n" ? "\r\n" : "\r"
    }

    /// The first line python-dotenv would read differently in `candidate` than this file with
    /// `key` set to `value`, or nil when there is none.
    private func firstLineReadDifferently(in candidate: String, key: String, value: String, target: Int?) -> Int? {
        let reread = EnvFile(parsing: candidate, environment: environment)
        for (index, old) in bindings.enumerated() {
            guard index < reread.bindings.count else { return old.line }
            let new = reread.bindings[index]
            let sameValue = index == target || Self.exactlyEqual(new.value, old.value)
            guard ExactKey(new.key) == ExactKey(old.key), new.isExported == old.isExported, sameValue else { return old.line }
        }
        // Counted, not compared: a shorter multi-line value moves the lines of later problems.
        if reread.problems.count != problems.count {
            return reread.problems.first?.firstLine ?? problems[0].firstLine
        }
        let keyLine = target.map { bindings[$0].line } ?? reread.bindings.last?.line ?? 1
        guard reread.bindings.count == bindings.count + (target == nil ? 1 : 0), Self.exactlyEqual(reread.value(of: key), value) else {
            return keyLine
        }
        return nil
    }

    private static func exactlyEqual(_ left: String?, _ right: String?) -> Bool {
        left.map { Array($0.unicodeScalars) } == right.map { Array($0.unicodeScalars) }
    }
}

public enum EnvFileEditError: Error, Equatable, CustomStringConvertible {
    case invalidKey(String)
    /// Every spelling of the value would make python-dotenv read `line` differently: typically a
    /// quote in the value would close an unterminated quote at `unparsableLine` (which python-dotenv
    /// already skips) or a quoted value at `line` that ends only because no other quote follows.
    case wouldChangeOtherLines(key: String, line: Int, unparsableLine: Int?)

    public var description: String {
        switch self {
        case .invalidKey(let key):
            return "invalid key \(String(reflecting: key)): use letters, digits, `_` and `.`, not starting with a digit or `.`"
        case .wouldChangeOtherLines(let key, let line, let unparsableLine):
            let cause = unparsableLine.map { "line \($0), which python-dotenv cannot parse (an unterminated quote?)" } ?? "line \(line)"
            return "cannot set \(key) without changing how python-dotenv reads line \(line) of the env file: fix the quoting on \(cause) first"
        }
    }
}
