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
