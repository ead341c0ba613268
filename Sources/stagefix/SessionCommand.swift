// `stagefix session create HOST EMAIL...`: session keys (or cookies) for logged-in test users.
import ArgumentParser
import Foundation
import StagefixCore

struct SessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Log test users in without the login UI.",
        subcommands: [Create.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a session per email with the server's own env; prints the keys.",
            discussion: """
                Runs `manage.py create_session EMAIL` on the host with the site's .env delivered as
                data (never on a command line). One key per line, in the order given.

                Formats: key (default), json, selenium (the dict driver.add_cookie takes),
                playwright (the list context.add_cookies takes), playwright-state (a storageState
                file), netscape (a cookie jar for curl -b).

                Examples:
                  stagefix session create staging.example.com edith@example.com
                  stagefix session create staging.example.com a@x.org b@x.org --format json
                  stagefix session create staging.example.com edith@example.com --format netscape > jar.txt
                  curl -b jar.txt https://staging.example.com/
                """
        )

        @OptionGroup var target: HostOptions

        @Argument(help: "One or more email addresses.")
        var emails: [String] = []

        @Option(help: "key, json, selenium, playwright, playwright-state or netscape.")
        var format: SessionOutputFormat = .key

        func validate() throws {
            guard !emails.isEmpty else { throw ValidationError("give at least one email, for example: stagefix session create \(target.host) edith@example.com") }
        }

        func run() throws {
            try Reporting.run(json: format == .json) {
                let addresses = try emails.map(EmailAddress.init)
                let fixture = try SiteConnection.open(target)
                defer { fixture.close() }
                let keys = try fixture.site.createSessions(for: addresses)
                fixture.audit(command: "session create " + emails.joined(separator: " "), exitStatus: 0)
                StandardStreams.write(
                    SessionOutput.render(format, sessions: Array(zip(addresses, keys)), host: fixture.siteHost, cookie: fixture.settings.cookie),
                    to: 1)
                return 0
            }
        }
    }
}

extension SessionOutputFormat: ExpressibleByArgument {}
