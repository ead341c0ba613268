// Mail against the rig: the site mails a one-time login link (Django's file backend); `mail wait`
// finds it, its link logs an HTTP client in, stale mail never counts, production's mailbox is refused.
import Foundation
import Testing

extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true), "needs the rig with its site: run scripts/test"))
struct MailTests {
    let rig = Rig.shared!
    var source: String { "django-files:~/sites/\(rig.host)/sent_emails" }

    /// The site's "send me a login link" form, as a browser would post it.
    private func requestLoginEmail(_ email: String) throws {
        let answer = try runLocal("/usr/bin/curl", ["-s", "-X", "POST", "--data-urlencode", "email=\(email)"] + rig.siteCurlOptions + [rig.siteNameURL + "accounts/send_login_email"])
        #expect(answer.contains("check your email"), "\(answer)")
    }

    /// Follows a link the site mailed (it names the site as the form was reached: by name and port,
    /// over https) and returns the page and the cookie jar it set.
    private func follow(_ link: String) throws -> (page: String, jar: String) {
        let jar = FileManager.default.temporaryDirectory.appendingPathComponent("mail-jar-\(UUID().uuidString)").path
        let page = try runLocal("/usr/bin/curl", ["-s", "-c", jar] + rig.siteCurlOptions + [link])
        return (page, jar)
    }

    private func mail(_ arguments: [String]) async throws -> CommandResult {
        try await Stagefix.run(["mail"] + arguments.prefix(1) + ["-F", rig.sshConfig, rig.host, "--source", source] + arguments.dropFirst())
    }

    @Test func theMagicLinkFromMailWaitLogsAnHTTPClientIn() async throws {
        let reset = try await mail(["reset"])
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(reset.stdout.hasPrefix("mark:"))
        try requestLoginEmail("edith@example.com")
        let link = try await mail(["wait", "--to", "edith@example.com", "--subject", "login link", "--header", "X-Superlists-Notification-Type=login", "--link", "token="])
        #expect(link.status == 0, "\(link.stderr)")
        let url = link.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix(rig.siteNameURL + "accounts/login?token="), "\(url)")
        let (page, jar) = try follow(url)
        #expect(page.contains("logged in as edith@example.com"), "\(page)")
        // The jar holds the Secure session cookie the site set: curl sends it back over https.
        let whoami = try runLocal("/usr/bin/curl", ["-s", "-b", jar] + rig.siteCurlOptions + [rig.siteNameURL + "whoami/"])
        #expect(whoami.contains("logged in as edith@example.com"))
        // Returned messages are consumed: waiting again finds nothing.
        let again = try await mail(["wait", "--to", "edith@example.com", "--timeout", "0.5"])
        #expect(again.status == 75)
    }

    @Test func aPlaybookWaitsForTheEmailAndFollowsItsLink() async throws {
        let book = FileManager.default.temporaryDirectory.appendingPathComponent("magic-\(UUID().uuidString.prefix(8)).yml").path
        try """
            name: magic-login
            vars:
              base_url: { required: true }
              user: magic@example.com
              mailbox: "django-files:~/sites/{{ host }}/sent_emails"
            steps:
              - mail_reset: { source: "{{ mailbox }}" }
              - http_get: { url: "{{ base_url }}/accounts/send_login_email?email={{ user }}", contains: ["check your email"] }
              - wait_for_email: { to: "{{ user }}", subject: login link, link: "token=", source: "{{ mailbox }}", timeout: 10 }
                register: login
              - http_get: { url_from: login, contains: ["logged in as {{ user }}"] }
            """.write(toFile: book, atomically: true, encoding: .utf8)
        let result = try await Stagefix.run(["play", book, "-F", rig.sshConfig, "--host", rig.host, "--var", "base_url=" + String(rig["RIG_SITE_URL"].dropLast()), "--format", "json"], environment: rig.siteTrustEnvironment)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let host = try #require((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["hosts"] as? [[String: Any]]).first
        let login = (host?["registered"] as? [String: Any])?["login"] as? [String: Any]
        #expect((login?["link"] as? String)?.contains("/accounts/login?token=") == true, "\(result.stdout)")
        let dry = try await Stagefix.run(["play", book, "-F", rig.sshConfig, "--host", rig.host, "--var", "base_url=http://x", "--dry-run"])
        #expect(dry.stdout.contains("wait up to 10 s for a message to magic@example.com"), "\(dry.stdout)")
        #expect(dry.stdout.contains("GET the link of login"))
    }

    @Test func mailSentBeforeTheResetIsNeverReturned() async throws {
        try requestLoginEmail("stale@example.com")
        #expect(try await mail(["reset"]).status == 0)
        let started = Date()
        let result = try await mail(["wait", "--to", "stale@example.com", "--timeout", "1.5"])
        #expect(result.status == 75)
        #expect(Date().timeIntervalSince(started) < 4, "a timeout within its bound")
        #expect(result.stderr.contains("a message to stale@example.com"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing arrived since the last reset"), "\(result.stderr)")
    }

    @Test func aTimeoutNamesWhatDidArrive() async throws {
        #expect(try await mail(["reset"]).status == 0)
        try requestLoginEmail("someone-else@example.com")
        let result = try await mail(["wait", "--to", "expected@example.com", "--timeout", "1", "--format", "json"])
        #expect(result.status == 75)
        #expect(result.stderr.contains("arrived instead: someone-else@example.com: Your login link for Superlists"), "\(result.stderr)")
        #expect(result.stdout.contains("\"kind\":\"timeout\""))
    }

    @Test func twoWaitsForDifferentRecipientsEachGetTheirOwn() async throws {
        #expect(try await mail(["reset"]).status == 0)
        async let first = mail(["wait", "--to", "first@example.com", "--timeout", "15", "--format", "json"])
        async let second = mail(["wait", "--to", "second@example.com", "--timeout", "15", "--format", "json"])
        try await Task.sleep(for: .milliseconds(700))
        try requestLoginEmail("second@example.com")
        try requestLoginEmail("first@example.com")
        let results = try await [first, second]
        for (result, email) in zip(results, ["first@example.com", "second@example.com"]) {
            #expect(result.status == 0, "\(result.stderr)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let message = try #require(document["message"] as? [String: Any])
            #expect(message["to"] as? [String] == [email])
            #expect((message["links"] as? [String])?.first?.contains("token=") == true)
            #expect((message["text"] as? String)?.contains("Use this link to log in") == true)
        }
    }

    @Test func keepLeavesTheMessageAndListShowsIt() async throws {
        #expect(try await mail(["reset"]).status == 0)
        try requestLoginEmail("kept@example.com")
        #expect(try await mail(["wait", "--to", "kept@example.com", "--keep", "--timeout", "10"]).status == 0)
        let listed = try await mail(["list"])
        #expect(listed.stdout.contains("kept@example.com  Your login link for Superlists"), "\(listed.stdout)")
        #expect(try await mail(["wait", "--to", "kept@example.com", "--timeout", "5"]).status == 0)
        #expect(!(try await mail(["list"])).stdout.contains("kept@example.com"))
    }

    @Test func mailWaitNoticesANewMessageQuicklyWithFewSFTPRequests() async throws {
        var latencies: [Double] = []
        for round in 0..<5 {
            #expect(try await mail(["reset"]).status == 0)
            let email = "quick\(round)@example.com"
            async let waited = mail(["wait", "--to", email, "--timeout", "10"])
            try await Task.sleep(for: .milliseconds(800))
            let sent = Date()
            try requestLoginEmail(email)
            let result = try await waited
            #expect(result.status == 0, "\(result.stderr)")
            latencies.append(Date().timeIntervalSince(sent) * 1000)
        }
        let median = latencies.sorted()[2]
        #expect(median < 300, "mail wait noticed a message \(median) ms after it was sent (median of \(latencies.map { Int($0) }))")

        // While nothing arrives (the mailbox quiet for a while): one stat per poll.
        try await Task.sleep(for: .seconds(2))
        let idle = try await Stagefix.run(["mail", "wait", "-v", "-F", rig.sshConfig, rig.host, "--source", source, "--to", "nobody@example.com", "--timeout", "3"])
        #expect(idle.status == 75)
        let rate = idle.stderr.components(separatedBy: " s (").last?.split(separator: "/").first.flatMap { Double($0) }
        #expect(rate != nil && rate! <= 5, "SFTP requests per second while waiting: \(idle.stderr)")
    }
}
}

@Suite(.serialized, .enabled(if: Stagefix.isAvailable && Rig.production != nil, "needs the production rig"))
struct ProductionMailTests {
    let production = Rig.production!

    @Test func resettingProductionsMailboxIsRefusedAndLeavesItAlone() async throws {
        let folder = production["RIG_SITE_DIR"] + "/sent_emails"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let message = folder + "/20260101-000000-1.log"
        try "To: customer@example.com\nSubject: Your order\n\nThanks.\n\n\(String(repeating: "-", count: 79))\n".write(toFile: message, atomically: true, encoding: .utf8)
        let alias = try String(contentsOfFile: production.sshConfig, encoding: .utf8).replacingOccurrences(of: "Host \(production.host)", with: "Host mail.staging-copy.rig.test")
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("prod-mail-\(UUID().uuidString.prefix(8))").path
        try alias.write(toFile: config, atomically: true, encoding: .utf8)
        for (sshConfig, host) in [(production.sshConfig, production.host), (config, "mail.staging-copy.rig.test")] {
            let result = try await Stagefix.run(["mail", "reset", "-F", sshConfig, host, "--source", "django-files:~/sites/\(production.host)/sent_emails"])
            #expect(result.status == 77, "\(host): \(result.stderr)")
        }
        #expect(FileManager.default.fileExists(atPath: message), "production's mailbox is untouched")
    }
}
