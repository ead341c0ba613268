// Strict UTF-8 checks for files a person wrote (configs, env files): where the text stops being UTF-8.

enum UTF8Validation {
    /// The offset of the first byte that does not start or continue a valid UTF-8 sequence.
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}

extension String {
    /// nil unless every byte is valid UTF-8 (`String(decoding:)` would replace bad bytes silently).
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        guard UTF8Validation.firstInvalidOffset(bytes) == nil else { return nil }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
