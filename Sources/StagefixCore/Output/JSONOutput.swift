// JSON for programs: stable keys, sorted, one document per invocation.
import Foundation

public enum JSONOutput {
    /// Encodes a JSON-compatible value (dictionaries, arrays, strings, numbers, bools, NSNull).
    public static func encode(_ value: Any) -> String {
        if let text = JSONText.serialize(value, escapingSlashes: false) { return text }
        guard JSONSerialization.isValidJSONObject(value),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `{"ok": false, "error": {"kind": ..., "message": ...}}` as CONTRACT.md requires.
    public static func error(_ error: any Error) -> String {
        let status = ExitStatus(for: error)
        return encode(["ok": false, "error": ["kind": status.kind, "message": String(describing: error), "exit_code": Int(status.rawValue)]])
    }
}
