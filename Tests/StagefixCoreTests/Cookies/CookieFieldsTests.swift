// The server's SESSION_COOKIE_* settings as the runner reports them: a field that cannot be part of a
// cookie is refused (78) with one line naming it; any age, however large, gives a sane expiry.
import Foundation
@testable import StagefixCore
import Testing

struct CookieFieldsTests {
    @Test(arguments: [
        ("domain", "evil.example.com\n\t.staging.example.com"),
        ("domain", "a.example.com; HttpOnly"),
        ("name", "sessionid\r\nX-Injected: 1"),
        ("name", "session id"),
        ("name", ""),
        ("path", "/\u{1B}[2J"),
        ("path", "/;Domain=evil"),
        ("samesite", "Lax\nEvil"),
    ])
    func aFieldThatCannotBeACookieIsRefusedWith78(_ field: String, _ value: String) throws {
        var cookie: [String: Any] = ["name": "sessionid", "path": "/", "samesite": "Lax", "age": 1_209_600]
        cookie[field] = value
        #expect {
            _ = try DjangoRunner.cookieSettings(from: cookie, host: "staging.example.com")
        } throws: { error in
            guard let error = error as? StagefixError, case let .configuration(message) = error else { return false }
            return error.exitStatus == .configuration && message.contains("SESSION_COOKIE_\(field.uppercased())")
                && !message.unicodeScalars.contains(where: TerminalText.isControl) && !message.contains("\n")
        }
    }

    @Test func djangoDefaultsAndOrdinaryDomainsPass() throws {
        let cookie = try DjangoRunner.cookieSettings(from: ["name": "sessionid", "domain": ".staging.example.com", "path": "/app/", "samesite": "Strict", "age": 3600], host: "h")
        #expect(cookie.domain == ".staging.example.com")
        #expect(cookie.maxAge == 3600)
    }

    @Test(arguments: [Int.max, Int.max - 1, 400 * 24 * 3600 + 1] as [Int])
    func aHugeAgeIsClampedTo400Days(_ age: Int) throws {
        let cookie = try DjangoRunner.cookieSettings(from: ["age": age], host: "h")
        #expect(cookie.maxAge == CookieFields.maximumAgeSeconds)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let rendered = try #require(try JSONSerialization.jsonObject(with: Data(SessionOutput.render(.selenium, sessions: [(try EmailAddress("a@example.com"), SessionKey("k2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h")!)], host: "h", cookie: cookie, now: now).utf8)) as? [String: Any])
        #expect(rendered["expiry"] as? Int == 1_800_000_000 + 400 * 24 * 3600)
    }

    @Test func anAgeBeyondInt64OrNegativeOrAFloatDoesNotTrap() throws {
        // 2**70 as Python's json writes it; Foundation reads it as a Double.
        let hello = try #require(try JSONSerialization.jsonObject(with: Data(#"{"age": 1180591620717411303424}"#.utf8)) as? [String: Any])
        #expect(try DjangoRunner.cookieSettings(from: hello, host: "h").maxAge == CookieFields.maximumAgeSeconds)
        #expect(try DjangoRunner.cookieSettings(from: ["age": -5], host: "h").maxAge == 0)
        #expect(try DjangoRunner.cookieSettings(from: ["age": 12.5], host: "h").maxAge == 12)
        #expect(CookieFields.expiry(now: .infinity, maxAge: .max) == CookieFields.maximumAgeSeconds)
        #expect(CookieFields.expiry(now: 1e300, maxAge: .max) == 1_000_000_000_000_000 + CookieFields.maximumAgeSeconds)
    }

    @Test(arguments: [("Cookie", "sessionid=abc\r\nX-Evil: 1"), ("X Bad", "1"), ("X-Ok", "line\nbreak"), ("", "v")])
    func aHeaderThatWouldSplitTheRequestIsRefused(_ name: String, _ value: String) {
        #expect(throws: StagefixError.self) { try HeaderField.validate(name: name, value: value) }
    }

    @Test func ordinaryHeadersPass() throws {
        try HeaderField.validate(name: "Cookie", value: "sessionid=k2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h")
        try HeaderField.validate(name: "X-App-Notification-Type", value: "login link\tcafé")
    }
}
