// `stagefix check HOST`: a read-only doctor, one line per check.
import ArgumentParser
import Foundation
import StagefixCore

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Read-only doctor: reachability, host key, authentication, guard verdict (one line each).",
        discussion: """
            Runs nothing on the host. Exits 0 when every check passes, else with the code of the
            first failure (69 unreachable, 76 host key, 67 authentication, ...).

            Examples:
              stagefix check staging.example.com
              stagefix check -F ./ssh_config --format json staging
            """
    )

    @OptionGroup var target: HostOptions

    @Option(help: "text or json.")
    var format: OutputFormatOption = .text

    func run() throws {
        var report = HostCheck.run(target.connectionRequest)
        if report.failure == nil {
            report.addGuardVerdict(target.connectionRequest, configPath: target.config)
        }
        switch format {
        case .json:
            StandardStreams.printOut(report.json)
        case .text:
            for line in report.lines { StandardStreams.printOut(TerminalText.escapedKeepingLines(line)) }
        }
        if let failure = report.failure {
            if format == .text { StandardStreams.printError("stagefix: " + TerminalText.escapedKeepingLines("\(failure)")) }
            throw ExitCode(ExitStatus(for: failure).rawValue)
        }
    }
}
