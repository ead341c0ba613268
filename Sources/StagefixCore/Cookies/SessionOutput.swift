// What `session create` prints: keys, or the cookie in the shape each browser tool or curl takes.
import Foundation

public enum SessionOutputFormat: String, Sendable, CaseIterable {
    case key, json, selenium, playwright
    case playwrightState = "playwright-state"
    case netscape
}

public enum SessionOutput {
    /// The dict Selenium's `add_cookie` takes (also the `cookie` of `--format json`).
    public static func seleniumCookie(_ key: SessionKey, host: String, cookie: SessionCookieSettings, now: Date = Date()) -> [String: Any] {
        ["name": cookie.name, "value": key.value, "path": cookie.path, "domain": cookie.domain ?? host, "secure": cookie.secure,
         "httpOnly": cookie.httpOnly, "sameSite": cookie.sameSite, "expiry": CookieFields.expiry(now: now.timeIntervalSince1970, maxAge: cookie.maxAge)]
    }

    /// `now` is a parameter so tests control the clock.
    public static func render(_ format: SessionOutputFormat, sessions: [(EmailAddress, SessionKey)], host: String, cookie: SessionCookieSettings, now: Date = Date()) -> String {
        let domain = cookie.domain ?? host
        let expires = CookieFields.expiry(now: now.timeIntervalSince1970, maxAge: cookie.maxAge)
        func seleniumCookie(_ key: SessionKey) -> [String: Any] { Self.seleniumCookie(key, host: host, cookie: cookie, now: now) }
        func playwrightCookie(_ key: SessionKey) -> [String: Any] {
            ["name": cookie.name, "value": key.value, "domain": domain, "path": cookie.path, "expires": Double(expires),
             "httpOnly": cookie.httpOnly, "secure": cookie.secure, "sameSite": cookie.sameSite]
        }
        switch format {
        case .key:
            return sessions.map { "\($0.1.value)\n" }.joined()
        case .json:
            return JSONOutput.encode([
                "ok": true, "host": host, "cookie_name": cookie.name,
                "sessions": sessions.map { ["email": $0.0.value, "key": $0.1.value, "cookie": seleniumCookie($0.1)] as [String: Any] },
            ]) + "\n"
        case .selenium:
            // One email: the dict driver.add_cookie takes; several: a list of them.
            let cookies = sessions.map { seleniumCookie($0.1) }
            return (cookies.count == 1 ? JSONOutput.encode(cookies[0]) : JSONOutput.encode(cookies)) + "\n"
        case .playwright:
            return JSONOutput.encode(sessions.map { playwrightCookie($0.1) }) + "\n"
        case .playwrightState:
            return JSONOutput.encode(["cookies": sessions.map { playwrightCookie($0.1) }, "origins": [Any]()]) + "\n"
        case .netscape:
            // curl's cookie jar: httpOnly cookies carry the #HttpOnly_ prefix on the domain.
            var lines = ["# Netscape HTTP Cookie File", "# written by stagefix session create; with several emails curl keeps the last"]
            for (_, key) in sessions {
                let domainField = (cookie.httpOnly ? "#HttpOnly_" : "") + domain
                lines.append([domainField, "FALSE", cookie.path, cookie.secure ? "TRUE" : "FALSE", String(expires), cookie.name, key.value].joined(separator: "\t"))
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
