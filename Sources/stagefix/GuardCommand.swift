// `stagefix guard HOST`: the production guard's verdict and every reason; read-only.
import ArgumentParser
import Foundation
import StagefixCore

struct GuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Read-only: the production guard's verdict and every reason (exit 0 allowed, 77 refused).",
        discussion: """
            Checks the role in stagefix.yml, the name typed and its ssh_config HostName against the
            deny and allow patterns, the address it resolves to, the server's host key, and what
            the site's env file says it is (SITENAME, DJANGO_ALLOWED_HOST...). Names can refuse but
            never allow on their own: the site itself must say it is staging. For a site whose env
            names nothing, its settings' ALLOWED_HOSTS and its database's marker are asked (the
            runner only reads).

            Examples:
              stagefix guard staging.example.com
              stagefix guard www.example.com --format json
            """
    )

    @OptionGroup var target: HostOptions

    @Option(help: "text or json.")
    var format: OutputFormatOption = .text

    func run() throws {
        try Reporting.run(json: format == .json) {
            let config = try StagefixConfig.load(explicitPath: target.config, searchFrom: FileManager.default.currentDirectoryPath)
            let evaluation = try SiteConnection.judge(target.connectionRequest, config: config)
            evaluation.site?.closeRunner()
            evaluation.session?.disconnect()
            let verdict = evaluation.verdict
            if format == .json {
                StandardStreams.printOut(JSONOutput.encode([
                    "ok": verdict.isAllowed, "host": verdict.host, "allowed": verdict.isAllowed,
                    "reasons": verdict.reasons.map { ["signal": $0.signal.rawValue, "evidence": $0.evidence, "detail": $0.detail, "fix": $0.fix ?? NSNull()] as [String: Any] },
                ]))
            } else {
                StandardStreams.printOut("\(verdict.host): \(verdict.isAllowed ? "allowed (staging)" : "REFUSED")")
                for reason in verdict.reasons { StandardStreams.printOut("  \(reason.signal.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(TerminalText.escaped("\(reason)"))") }
                if !verdict.isAllowed { StandardStreams.printError("stagefix: " + TerminalText.escapedKeepingLines("\(verdict.refusal())")) }
            }
            return verdict.isAllowed ? 0 : ExitStatus.refusedByGuard.rawValue
        }
    }
}
