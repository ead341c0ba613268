// The `stagefix` command: argument parsing and printing only; the work lives in StagefixCore.
import ArgumentParser
import Foundation
import StagefixCore

@main
struct Stagefix: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagefix",
        abstract: "Set up test fixtures on a staging server over SSH, and never on production.",
        discussion: """
            Exit codes: 0 ok, 1 remote command failed, 64 usage, 65 bad input, 67 authentication,
            69 unreachable, 75 timed out, 76 host key unknown or changed, 77 refused by the
            production guard, 78 configuration error.
            """,
        version: StagefixVersion.current,
        subcommands: [SessionCommand.self, DatabaseCommand.self, EnvCommand.self, ManageCommand.self, ExecCommand.self, CheckCommand.self, GuardCommand.self, PlayCommand.self, LockCommand.self, MailCommand.self, AgentCommand.self]
    )

    /// `mail wait --link` may stand without its REGEX (CONTRACT.md: `--link [REGEX]`): alone, or before
    /// another option, it means any link.
    static func optionalValues(_ arguments: ArraySlice<String>) -> [String] {
        let words = Array(arguments)
        // After `--` every word belongs to the remote or local command.
        let end = words.firstIndex(of: "--") ?? words.count
        return words.indices.map { index in
            let next = index + 1 < end ? words[index + 1] : nil
            let bare = index < end && words[index] == "--link" && (next == nil || next!.hasPrefix("-"))
            return bare ? "--link=.*" : words[index]  // any link
        }
    }

    /// Usage errors found while parsing also honour `--format json` (CONTRACT.md: JSON on stdout).
    static func main() {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(optionalValues(CommandLine.arguments.dropFirst()))
        } catch {
            let arguments = CommandLine.arguments
            let wantsJSON = zip(arguments, arguments.dropFirst()).contains { $0 == "--format" && $1 == "json" } || arguments.contains("--format=json")
            if wantsJSON && exitCode(for: error).rawValue == ExitStatus.usage.rawValue {
                StandardStreams.printOut(JSONOutput.error(StagefixError.usage(message(for: error))))
            }
            let code = exitCode(for: error)
            // Help and --version print as ArgumentParser does; errors quote arguments, escaped.
            guard code != .success else { exit(withError: error) }
            StandardStreams.printError(fullMessage(for: error))
            Foundation.exit(code.rawValue)
        }
        do {
            var command = command
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
