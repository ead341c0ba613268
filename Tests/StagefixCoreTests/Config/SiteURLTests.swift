// site.url: the name browsers open the site by when ssh reaches it by another, for cookies and http_get paths.
import Foundation
import StagefixCore
import Testing

struct SiteURLTests {
    @Test func aHostWithSiteURLGivesCookiesItsWebNameAndOthersKeepTheNameAsTyped() throws {
        let config = try StagefixConfig.parse(yaml: """
            hosts:
              staging:
                site:
                  path: ~/sites/staging.example.com
                  url: https://Staging.Example.com:8443/
              other.staging.example.com: { role: staging }
            """, path: "stagefix.yml")
        let aliased = config.hostSettings(for: "staging")
        #expect(aliased.cookieHost(sshName: "staging") == "staging.example.com")
        #expect(aliased.siteURL?.base == "https://Staging.Example.com:8443")
        #expect(aliased.site.projectPath == "~/sites/staging.example.com")
        #expect(config.hostSettings(for: "other.staging.example.com").cookieHost(sshName: "other.staging.example.com") == "other.staging.example.com")
    }

    @Test func aCookieWithoutADomainIsForTheHostItIsRenderedFor() throws {
        let key = try #require(SessionKey("k2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h"))
        let settings = try StagefixConfig.parse(yaml: "hosts:\n  staging:\n    site: { url: 'https://staging.example.com/' }\n", path: "s.yml").hostSettings(for: "staging")
        let cookie = SessionOutput.seleniumCookie(key, host: settings.cookieHost(sshName: "staging"), cookie: SessionCookieSettings())
        #expect(cookie["domain"] as? String == "staging.example.com")
        // A domain the server (or cookie_domain) sets still wins: it is what the site itself sends.
        let serverDomain = SessionOutput.seleniumCookie(key, host: settings.cookieHost(sshName: "staging"), cookie: SessionCookieSettings(domain: ".example.com"))
        #expect(serverDomain["domain"] as? String == ".example.com")
    }

    @Test(arguments: [
        ("https://staging.example.com", "/whoami/", "https://staging.example.com/whoami/"),
        ("https://staging.example.com/", "/whoami/", "https://staging.example.com/whoami/"),
        ("http://10.0.0.5:8000/app/", "/accounts/login", "http://10.0.0.5:8000/app/accounts/login"),
        ("https://staging.example.com", "https://elsewhere.example.com/x", "https://elsewhere.example.com/x"),
        ("https://staging.example.com", "//elsewhere.example.com/x", "//elsewhere.example.com/x"),
    ])
    func aPathIsResolvedOnTheSiteAndAFullURLIsLeftAlone(site: String, url: String, resolved: String) throws {
        #expect(try SiteURL(site).resolve(url) == resolved)
    }

    @Test(arguments: ["staging.example.com", "ftp://staging.example.com/", "https:///x", "https://staging.example.com/?a=1", "https://u@staging.example.com/", "https://staging.example.com/#top"])
    func aURLThatCannotBeASitesAddressIsAConfigurationError(url: String) {
        #expect {
            _ = try StagefixConfig.parse(yaml: "hosts:\n  staging:\n    site:\n      url: '\(url)'\n", path: "stagefix.yml")
        } throws: { error in
            ExitStatus(for: error) == .configuration && "\(error)".contains("stagefix.yml") && "\(error)".contains("site.url")
        }
    }
}
