// Builds the remote command line for a management command. It never holds a secret: the env
// travels on stdin as data, and every argument is a quoted word.
import SSH

public enum ManagementCommandLine {
    /// Exit statuses the prologue uses to say what is missing (with a line on stderr too).
    public enum PrologueFailure: Int32, CaseIterable, Sendable {
        case missingProject = 200
        case missingInterpreter = 201
        case missingManage = 202
        case envRejected = 203

        var marker: String { "stagefix-prologue-\(rawValue)" }
    }

    /// `cd PROJECT && (read env from stdin) && exec PYTHON MANAGE ARGS </dev/null`.
    /// With `deliversEnv`, stdin must carry `EnvDelivery.script(...)` and then EOF.
    public static func build(layout: SiteLayout, arguments: [String], deliversEnv: Bool) -> String {
        var steps: [String] = []
        steps.append("cd \(shellPath(layout.projectPath)) 2>/dev/null || { echo \(PrologueFailure.missingProject.marker) >&2; exit \(PrologueFailure.missingProject.rawValue); }")
        let program: String
        if let prefix = layout.commandPrefix, !prefix.isEmpty {
            program = ShellQuoting.join(prefix)
        } else {
            steps.append("test -x \(shellPath(layout.python)) || { echo \(PrologueFailure.missingInterpreter.marker) >&2; exit \(PrologueFailure.missingInterpreter.rawValue); }")
            steps.append("test -f \(shellPath(layout.manage)) || { echo \(PrologueFailure.missingManage.marker) >&2; exit \(PrologueFailure.missingManage.rawValue); }")
            program = "\(shellPath(layout.python)) \(shellPath(layout.manage))"
        }
        if deliversEnv {
            // The values arrive as quoted `export` lines on stdin: never on this command line.
            steps.append("eval \"$(cat)\" || { echo \(PrologueFailure.envRejected.marker) >&2; exit \(PrologueFailure.envRejected.rawValue); }")
        }
        let words = arguments.isEmpty ? "" : " " + ShellQuoting.join(arguments)
        steps.append("exec \(program)\(words) </dev/null")
        return steps.joined(separator: "\n")
    }

    /// Reads a length line and that much Python from stdin and runs it: the runner arrives as data.
    /// Imports Django's framework (no settings needed) while the code and env are still on the way:
    /// over a WAN the import hides the round trip stdin must wait for (sshd opens the channel's
    /// window only once the command runs). A failing import is left for the runner to report.
    static let runnerBootstrap = """
        import sys
        try:import django.core.management,django.db.models
        except BaseException:pass
        i=sys.stdin.buffer;exec(compile(i.read(int(i.readline())),'stagefix_runner','exec'))
        """

    /// Starts the Django runner the way the site runs `manage.py`: the same prologue checks, its
    /// interpreter (or the container prefix, whose last word must be manage.py), no env on the line.
    public static func runner(layout: SiteLayout) throws -> String {
        let bootstrap = ["-u", "-c", runnerBootstrap]
        let program: String
        var steps = ["cd \(shellPath(layout.projectPath)) 2>/dev/null || { echo \(PrologueFailure.missingProject.marker) >&2; exit \(PrologueFailure.missingProject.rawValue); }"]
        if let prefix = layout.commandPrefix, !prefix.isEmpty {
            guard let last = prefix.last, last.hasSuffix("manage.py"), prefix.count >= 2 else {
                throw StagefixError.configuration("site.command_prefix `\(prefix.joined(separator: " "))` must end with the interpreter and manage.py (e.g. `docker exec -i superlists python manage.py`)")
            }
            program = ShellQuoting.join(Array(prefix.dropLast()) + bootstrap + [last])
        } else {
            steps.append("test -x \(shellPath(layout.python)) || { echo \(PrologueFailure.missingInterpreter.marker) >&2; exit \(PrologueFailure.missingInterpreter.rawValue); }")
            steps.append("test -f \(shellPath(layout.manage)) || { echo \(PrologueFailure.missingManage.marker) >&2; exit \(PrologueFailure.missingManage.rawValue); }")
            program = "\(shellPath(layout.python)) \(ShellQuoting.join(bootstrap)) \(shellPath(layout.manage))"
        }
        steps.append("exec \(program)")
        return steps.joined(separator: "\n")
    }

    /// A path as a shell word: `~/x` keeps its meaning (`"$HOME"/'x'`), anything else is quoted.
    public static func shellPath(_ path: String) -> String {
        if path == "~" { return "\"$HOME\"" }
        if path.hasPrefix("~/") { return "\"$HOME\"/" + ShellQuoting.quote(String(path.dropFirst(2))) }
        return ShellQuoting.quote(path)
    }

    /// Which prologue check failed, from the exit status and stderr.
    public static func prologueFailure(exit: RemoteExit, stderr: String) -> PrologueFailure? {
        guard let failure = PrologueFailure(rawValue: exit.status), stderr.contains(failure.marker) else { return nil }
        return failure
    }
}

/// Encodes env values as POSIX sh `export` statements, the data a prologue `eval`s.
public enum EnvDelivery {
    /// Keys sh can export. python-dotenv accepts more (`a.b`), which no shell variable can hold.
    public static func isExportable(_ key: String) -> Bool {
        guard let first = key.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return key.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// `export KEY='value'` lines, every value single-quoted so nothing in it is interpreted.
    public static func script(_ values: [(key: String, value: String)]) -> [UInt8] {
        var text = ""
        for (key, value) in values where isExportable(key) {
            text += "export \(key)='\(value.replacingOccurrences(of: "'", with: "'\\''"))'\n"
        }
        return Array(text.utf8)
    }
}
