// Finds the session key in what `create_session` printed, without mistaking a warning for it.

public struct SessionKey: Sendable, Equatable, CustomStringConvertible {
    public let value: String

    /// Django's keys: 32 characters of lowercase letters and digits (`get_random_string(32, VALID_KEY_CHARS)`),
    /// or, with the signed_cookies engine, the signed session itself (URL-safe base64, `.`, `:`), up to
    /// the 4 KiB a browser keeps per cookie.
    public init?(_ text: String) {
        guard (8...4096).contains(text.utf8.count) else { return nil }
        if text.utf8.count <= 64, text.utf8.allSatisfy({ Self.isLowercaseAlphanumeric($0) }) {
            value = text
            return
        }
        guard text.utf8.contains(UInt8(ascii: ":")),
            text.utf8.allSatisfy({ Self.isLowercaseAlphanumeric($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || [UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "_")].contains($0) })
        else { return nil }
        value = text
    }

    private static func isLowercaseAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    public var description: String { value }

    /// The key is the command's last non-empty stdout line; anything before it (warnings) is ignored.
    /// Throws with the output's tail when that line is not a key.
    public static func parse(commandOutput: String, email: String) throws -> SessionKey {
        let lines = commandOutput.split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        if let last = lines.last, let key = SessionKey(last) { return key }
        let tail = lines.suffix(5).joined(separator: "\n")
        throw StagefixError.remoteCommandFailed(
            command: "create_session \(email)", exit: RemoteExit(status: 0),
            stderrTail: tail.isEmpty
                ? "it printed nothing; expected a session key on its last line"
                : "its last line is not a session key; expected 32 lowercase letters and digits. Output ends with:\n\(tail)")
    }
}

import Foundation
import SSH
