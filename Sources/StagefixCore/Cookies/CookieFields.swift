// A session cookie's fields checked before they reach a cookie jar, a browser tool or a header: the
// server's SESSION_COOKIE_* settings are not trusted to be cookie syntax (a newline in the domain
// forged a line of curl's cookie jar; CR LF in the name added request headers).

public enum CookieFields {
    /// Browsers cap a cookie's lifetime at 400 days (RFC 6265bis, section 5.5); a longer
    /// SESSION_COOKIE_AGE is clamped to it rather than trusted in arithmetic.
    public static let maximumAgeSeconds = 400 * 24 * 3600

    /// Refuses (78) a field that cannot be part of a cookie; `origin` says where the values came from.
    public static func validate(_ cookie: SessionCookieSettings, origin: String) throws {
        try check(cookie.name, field: "NAME", origin: origin, allowed: HeaderField.isTokenCharacter)
        if let domain = cookie.domain { try check(domain, field: "DOMAIN", origin: origin, allowed: isDomainCharacter) }
        try check(cookie.path, field: "PATH", origin: origin, allowed: isPathCharacter)
        try check(cookie.sameSite, field: "SAMESITE", origin: origin, allowed: HeaderField.isTokenCharacter)
    }

    /// The lifetime as stated, within 0...400 days (a negative age means "already expired").
    public static func clampedAge(_ seconds: Int) -> Int {
        min(max(seconds, 0), maximumAgeSeconds)
    }

    /// When a cookie made at `now` expires, in seconds since 1970: never past 400 days.
    public static func expiry(now: Double, maxAge: Int) -> Int {
        let start = now.isFinite ? Int(min(max(now, 0), 1e15)) : 0
        return start + clampedAge(maxAge)
    }

    /// Django's SESSION_COOKIE_AGE as JSON gave it (an int of any size, or a float): within Int,
    /// clamped rather than trapping; nil when it is not a number.
    public static func age(fromJSON value: Any?) -> Int? {
        switch value {
        case let integer as Int: return integer
        case let number as Double where number.isNaN: return nil
        case let number as Double: return number >= 9.2e18 ? Int.max : number <= -9.2e18 ? Int.min : Int(number)
        default: return nil
        }
    }

    private static func check(_ value: String, field: String, origin: String, allowed: (Unicode.Scalar) -> Bool) throws {
        if value.isEmpty && field == "NAME" {
            throw StagefixError.configuration("\(origin): SESSION_COOKIE_NAME is empty, which cannot be a cookie")
        }
        guard let bad = value.unicodeScalars.first(where: { !allowed($0) }) else { return }
        throw StagefixError.configuration(
            "\(origin): SESSION_COOKIE_\(field) \(TerminalText.escaped(value)) contains \(ControlCharacter.name(bad)), which cannot be part of a cookie; refused")
    }

    /// A domain: letters, digits and the punctuation host names and IDNs use, never a separator.
    private static func isDomainCharacter(_ scalar: Unicode.Scalar) -> Bool {
        !TerminalText.isControl(scalar) && !" \t;,\"\\".unicodeScalars.contains(scalar)
    }

    /// RFC 6265's path-value: any CHAR except CTLs and `;`.
    private static func isPathCharacter(_ scalar: Unicode.Scalar) -> Bool {
        !TerminalText.isControl(scalar) && scalar != ";"
    }
}
