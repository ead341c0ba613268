// Masks env values wherever they would otherwise be shown: stderr tails, traces, error messages.

public struct Redactor: Sendable {
    public static let mask = "******"
    private let secrets: [String]

    /// Every value of the env file is treated as secret here: an error tail never needs one.
    /// Very short values (`1`, `y`) are left alone: masking them would garble every message.
    public init(values: some Sequence<String>) {
        secrets = Set(values.filter { $0.count >= 4 }).sorted { $0.count > $1.count }
    }

    public static let none = Redactor(values: [])

    public func redact(_ text: String) -> String {
        var result = text
        // Byte for byte: a secret is masked even where a combining mark follows it.
        for secret in secrets where result.containsBytes(secret) {
            result = result.replacingEvery(secret, with: Redactor.mask)
        }
        return result
    }
}

import Foundation
import SSH
