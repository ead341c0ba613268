// Turns an error into one line on stderr (and JSON on stdout when asked) and the documented exit code.
import ArgumentParser
import Foundation
import StagefixCore

enum Reporting {
    static func fail(_ error: any Error, json: Bool) -> ExitCode {
        let status = ExitStatus(for: error)
        if json { StandardStreams.printOut(JSONOutput.error(error)) }
        // An error can quote the server (a runner's exception, a refusal's identity values): its
        // control characters are shown escaped; its own line breaks stay.
        StandardStreams.printError("stagefix: " + TerminalText.escapedKeepingLines("\(error)"))
        return ExitCode(status.rawValue)
    }

    /// Runs `body`, mapping any error to its exit code; `body` returns the exit code on success.
    static func run(json: Bool, _ body: () throws -> Int32) throws {
        let code: Int32
        do {
            code = try body()
        } catch {
            throw fail(error, json: json)
        }
        if code != 0 { throw ExitCode(code) }
    }
}
