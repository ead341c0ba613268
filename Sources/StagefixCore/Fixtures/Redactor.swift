// Masks env values wherever they would otherwise be shown: stderr tails, traces, error messages.
import SSH

public struct Redactor: Sendable {
    public static let mask = "******"
    private let secrets: [String]

    /// Every value of the env file is treated as secret here: an error tail never needs one.
    /// Very short values (`1`, `y`) are left alone: masking them would garble every message.
    public init(values: some Sequence<String>) {
        // Longest first, in bytes (what the first pass matches), so a secret inside a longer one never
        // masks part of it and leaves the rest showing.
        secrets = Set(values.filter { $0.count >= 4 }).sorted { ($0.utf8.count, $0) > ($1.utf8.count, $1) }
    }

    public static let none = Redactor(values: [])

    /// For an env file: the values that may be secrets, not every value. A key that names a secret
    /// (`SECRET_KEY`, `DB_PASSWORD`), the password inside a URL value, and any long token-like value
    /// (16+ characters, no `/` or space, not a host name) are masked; host names, paths and short
    /// settings (`SITENAME`, `DJANGO_DB_PATH`, `DEBUG=1`) stay readable in messages.
    public init(environment: some Sequence<(key: String, value: String)>) {
        var secrets: [String] = []
        for (key, value) in environment {
            if SecretRedaction.isSecretLooking(key: key) || Self.looksLikeAToken(value) {
                secrets.append(value)
            } else {
                secrets += SecretRedaction.urlPasswords(in: value)
            }
        }
        self.init(values: secrets)
    }

    static func looksLikeAToken(_ value: String) -> Bool {
        guard value.count >= 16, !value.contains("/"), !value.contains(" ") else { return false }
        // A host name or a list of them (`staging.example.com,127.0.0.1`) says which site, not a secret.
        let hostLike = value.split(separator: ",").allSatisfy { part in
            let labels = part.split(separator: ".", omittingEmptySubsequences: false)
            return labels.count > 1 && labels.allSatisfy { label in
                !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
        }
        return !hostLike
    }

    public func redact(_ text: String) -> String {
        var result = text
        // Only text with non-ASCII in it can hold a secret in another Unicode form.
        let mayHoldOtherForms = text.utf8.contains { $0 >= 0x80 }
        for secret in secrets {
            // Byte for byte: a secret is masked even where a combining mark follows it...
            if result.containsBytes(secret) { result = result.replacingEvery(secret, with: Redactor.mask) }
            // ...and as characters: the same text in another normalisation (é as e + U+0301).
            if mayHoldOtherForms { result = result.replacing(secret, with: Redactor.mask) }
        }
        return result
    }
}
