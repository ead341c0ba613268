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
                Runs in one Django process on the host, started with the site's own interpreter and
                manage.py, with the site's .env delivered as data (never on a command line): the
                site's `create_session EMAIL` when it has one (its key checked the way Django's
                get_user would), else stagefix makes the session itself (get-or-create the user, a
                session from SESSION_ENGINE). Cookies use the server's SESSION_COOKIE_* settings.
                One key per line, in the order given.

                --flush empties the database first, in the same Django process and request (the
                per-test fixture in one round trip); like `db flush` it asks at a terminal unless
                --yes is given, and a failed flush makes no sessions.

                Formats: key (default), json, selenium (the dict driver.add_cookie takes),
                playwright (the list context.add_cookies takes), playwright-state (a storageState
                file), netscape (a cookie jar for curl -b).

                Examples:
                  stagefix session create staging.example.com edith@example.com
                  stagefix session create staging.example.com a@x.org b@x.org --format json
                  stagefix session create staging.example.com edith@example.com --flush --yes
                  stagefix session create staging.example.com edith@example.com --format netscape > jar.txt
                  curl -b jar.txt https://staging.example.com/
                """
        )

        @OptionGroup var target: HostOptions

        @OptionGroup var warm: WarmOption

        @Argument(help: "One or more email addresses.")
        var emails: [String] = []

        @Option(help: "key, json, selenium, playwright, playwright-state or netscape.")
        var format: SessionOutputFormat = .key

        @Flag(help: "Make the session in stagefix's runner even when the site has its own create_session.")
        var builtin = false

        @Flag(help: "Make the user staff (for admin tests; implies --builtin).")
        var staff = false

        @Flag(help: "Make the user a superuser (implies --builtin).")
        var superuser = false

        @Option(name: .customLong("group"), help: ArgumentHelp("Add the user to this group, created when missing (repeat; implies --builtin).", valueName: "name"))
        var groups: [String] = []

        @Flag(help: "Flush the database first, in the same request (asks unless --yes).")
        var flush = false

        @Flag(help: "Confirm --flush without asking (for scripts and test suites).")
        var yes = false

        func validate() throws {
            guard !emails.isEmpty else { throw ValidationError("give at least one email, for example: stagefix session create \(target.host) edith@example.com") }
        }

        func run() throws {
            if flush && !yes {
                try Reporting.run(json: format == .json) {
                    try Confirmation.requireTypedHostName(target.host, action: "flush the database of")
                    return 0
                }
            }
            let options = SessionRequestOptions(builtin: builtin, staff: staff, superuser: superuser, groups: groups)
            try target.perform(.sessionCreate(emails: emails, format: format.rawValue, options: options, flushFirst: flush), warm: warm)
        }
    }
}

extension SessionOutputFormat: ExpressibleByArgument {}
