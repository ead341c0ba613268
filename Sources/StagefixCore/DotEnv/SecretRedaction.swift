// Decides which env values are secrets and masks them, or the passwords inside URLs, for display.

public enum SecretRedaction {
    /// What a masked value shows: the same mask as `Redactor`, and nothing of the value's length.
    public static let mask = "******"

    /// Whether a key's name says its value is a secret: `SECRET_KEY`, `DB_PASSWORD`, `apiToken`,
    /// `SENTRY_DSN`, `AWS_SECRET_ACCESS_KEY`, `GITHUB_AUTH`... Words are split at `_`, `.`, `-`
    /// and camel case, so `KEY` matches as a word (`API_KEY`) but not inside `MONKEY` or `KEYBOARD`.
    public static func isSecretLooking(key: String) -> Bool {
        let upper = key.uppercased()
        if secretFragments.contains(where: { upper.contains($0) }) { return true }
        let words = words(of: key)
        if words == ["PWD"] || words == ["OLDPWD"] { return false }  // the shell's working directory
        return words.contains { secretWords.contains($0) }
    }

    /// `value` fit to show: all masked when `key` looks secret, else with the passwords of any
    /// URLs in it (`postgres://user:pass@host`) and secret-looking query parameters
    /// (`?api_key=...`) masked. An empty value stays empty: that it is empty is no secret.
    public static func redacted(value: String, forKey key: String) -> String {
        if value.isEmpty { return value }
        if isSecretLooking(key: key) { return mask }
        return maskingURLCredentials(in: value)
    }

    /// The passwords of the URLs in `value` (`scheme://user:PASSWORD@host`), and the values of
    /// their secret-looking query parameters: what `maskingURLCredentials` hides.
    public static func urlPasswords(in value: String) -> [String] {
        let scalars = Array(value.unicodeScalars)
        var found: [String] = []
        func text(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        var index = 0
        while index < scalars.count {
            if let userinfoEnd = userinfoEnd(in: scalars, afterSchemeAt: index) {
                let userinfo = (index + 3)..<userinfoEnd
                if let colon = scalars[userinfo].firstIndex(of: ":"), colon + 1 < userinfoEnd { found.append(text((colon + 1)..<userinfoEnd)) }
                index = userinfoEnd
            } else if let parameter = secretParameterValue(in: scalars, at: index) {
                if !parameter.isEmpty { found.append(text(parameter.lowerBound..<parameter.upperBound)) }
                index = parameter.upperBound
            } else {
                index += 1
            }
        }
        return found
    }

    /// Masks every URL password (`scheme://user:PASSWORD@host`) and every query parameter value
    /// whose name looks secret (`?token=VALUE`).
    public static func maskingURLCredentials(in value: String) -> String {
        let scalars = Array(value.unicodeScalars)
        var result = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if let userinfoEnd = userinfoEnd(in: scalars, afterSchemeAt: index) {
                let userinfoStart = index + 3
                result.append(contentsOf: scalars[index..<userinfoStart])
                let userinfo = scalars[userinfoStart..<userinfoEnd]
                if let colon = userinfo.firstIndex(of: ":"), colon + 1 < userinfoEnd {
                    result.append(contentsOf: scalars[userinfoStart...colon])
                    result.append(contentsOf: mask.unicodeScalars)
                } else {
                    result.append(contentsOf: userinfo)
                }
                index = userinfoEnd
            } else if let parameter = secretParameterValue(in: scalars, at: index) {
                result.append(contentsOf: scalars[index..<parameter.lowerBound])
                result.append(contentsOf: mask.unicodeScalars)
                index = parameter.upperBound
            } else {
                result.append(scalars[index])
                index += 1
            }
        }
        return String(result)
    }

    // MARK: Words

    /// Matched anywhere in the upper-cased key: no ordinary word contains them.
    private static let secretFragments = ["SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "CREDENTIAL", "PRIVATE", "APIKEY"]
    /// Matched as whole words only: `KEY` is a secret, `MONKEY` and `AUTHOR` are not.
    private static let secretWords: Set<String> = ["KEY", "KEYS", "PASS", "PWD", "DSN", "AUTH", "OAUTH", "CREDS", "SALT", "SIGNATURE", "COOKIE"]

    /// `dbPassword_HOST.name` -> `DB`, `PASSWORD`, `HOST`, `NAME`.
    private static func words(of key: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousWasLowercase = false
        for character in key {
            guard character.isLetter || character.isNumber else {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousWasLowercase = false
                continue
            }
            if character.isUppercase, previousWasLowercase, !current.isEmpty {
                words.append(current)
                current = ""
            }
            current += character.uppercased()
            previousWasLowercase = character.isLowercase || character.isNumber
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    // MARK: URLs

    /// At a `://`, the end of the URL's userinfo (where its `@` is), if it has one. The last `@`
    /// before the host's end counts, as Python's `urllib` splits, so a raw `@` in a password is
    /// masked too; the authority ends at `/`, `?`, `#`, whitespace or another URL's `://`.
    private static func userinfoEnd(in scalars: [Unicode.Scalar], afterSchemeAt index: Int) -> Int? {
        guard startsScheme(scalars, at: index) else { return nil }
        var lastAt: Int?
        var cursor = index + 3
        while cursor < scalars.count {
            let scalar = scalars[cursor]
            if scalar == "/" || scalar == "?" || scalar == "#" || PythonWhitespace.contains(scalar) || startsScheme(scalars, at: cursor) {
                break
            }
            if scalar == "@" { lastAt = cursor }
            cursor += 1
        }
        return lastAt
    }

    private static func startsScheme(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        index + 2 < scalars.count && scalars[index] == ":" && scalars[index + 1] == "/" && scalars[index + 2] == "/"
    }

    /// At a `?` or `&` that starts `name=value` with a secret-looking name: the value's range.
    private static func secretParameterValue(in scalars: [Unicode.Scalar], at index: Int) -> Range<Int>? {
        guard scalars[index] == "?" || scalars[index] == "&" else { return nil }
        var equals = index + 1
        while equals < scalars.count, scalars[equals] != "=", scalars[equals] != "&", scalars[equals] != "#", !PythonWhitespace.contains(scalars[equals]) {
            equals += 1
        }
        guard equals < scalars.count, scalars[equals] == "=", equals > index + 1 else { return nil }
        let name = String(String.UnicodeScalarView(scalars[(index + 1)..<equals]))
        guard isSecretLooking(key: name) else { return nil }
        var end = equals + 1
        while end < scalars.count, scalars[end] != "&", scalars[end] != "#", !PythonWhitespace.contains(scalars[end]) {
            end += 1
        }
        return end > equals + 1 ? (equals + 1)..<end : nil
    }
}
