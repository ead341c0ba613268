// A fuzz pass over the command line: generated arguments for every command (unicode, control bytes,
// huge values, option-like words) through the real binary. It never traps, never prints a stack
// trace or a raw escape byte, and always exits with a documented code. Every host resolves (through
// the -F config) to a closed port on loopback, so nothing leaves this machine and nothing runs.
import Foundation
import PropertyBased
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: Stagefix.binary), "needs the built binary"))
struct CommandLineFuzzTests {
    static let invocations = Int(ProcessInfo.processInfo.environment["STAGEFIX_FUZZ_INVOCATIONS"] ?? "") ?? 2000
    static let documentedCodes: Set<Int32> = [0, 1, 64, 65, 67, 69, 75, 76, 77, 78]

    static let commands: [[String]] = [
        ["session", "create"], ["db", "flush"], ["db", "mark"], ["env", "show"], ["env", "get"], ["env", "set"],
        ["manage"], ["exec"], ["check"], ["guard"], ["lock"], ["play"], ["mail", "wait"], ["mail", "list"], ["mail", "reset"],
    ]

    static let piece = Gen.frequency(
        (4, Gen<String?>.element(of: [
            "staging.fuzz.test", "www.fuzz.test", "fuzz-prod.test", "edith@example.com", "-rf@x.test", "a@b", "--yes", "--flush",
            "--format", "json", "selenium", "netscape", "--timeout", "0", "-1", "nan", "1e309", "--", "-", "=", "KEY=value", "1KEY=x",
            "--source", "maildir:", "django-files:~/x", "--lock-timeout", "--builtin", "--group", "--warm", "-v", "--reveal", "staging",
            "--var", "x=", "--host", "--dry-run", "--since", "mark:abc", "--to", "--link", "(", "--help",
        ]).map { $0! }),
        (2, Gen<String?>.element(of: Array("aé😀\u{0}\u{1b}\u{7f}\u{85}\u{9b}\n\t\r\\'\"$`;|&*?~ ٱ\u{202e}").map(String.init)).map { $0 ?? "" }
            .array(of: 1...12).map { $0.joined() }),
        (1, Gen.int(in: 1000...60_000).map { String(repeating: "x", count: $0) }),
    )

    @Test func generatedInvocationsNeverTrapAndExitWithDocumentedCodes() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-fuzz-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let closedPort = try freePort(on: "127.0.0.1")
        let sshConfig = folder + "/ssh_config"
        try "Host *\n    HostName 127.0.0.1\n    Port \(closedPort)\n    UserKnownHostsFile \(folder)/known_hosts\n    StrictHostKeyChecking yes\n".write(toFile: sshConfig, atomically: true, encoding: .utf8)

        var rng = Xoshiro()
        var invocations: [[String]] = []
        for _ in 0..<Self.invocations {
            let command = Self.commands[Int.random(in: 0..<Self.commands.count, using: &rng)]
            let rest = Self.piece.array(of: 0...6).run(using: &rng)
            invocations.append(command + ["-F", sshConfig, "--timeout", "3"] + rest)
        }
        // Eight at a time: most end in milliseconds (usage errors, refusals, a refused connection).
        var failures: [String] = []
        var index = 0
        while index < invocations.count {
            let batch = invocations[index..<min(index + 8, invocations.count)]
            let results = try await withThrowingTaskGroup(of: ([String], CommandResult).self) { group in
                for arguments in batch {
                    group.addTask { (arguments, try await Stagefix.run(arguments, environment: ["HOME": folder, "STAGEFIX_AGENT_SOCKET": folder + "/agent.sock", "XDG_STATE_HOME": folder])) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for (arguments, result) in results {
                let shown = arguments.map { $0.count > 40 ? "<\($0.count) chars>" : $0.debugDescription }.joined(separator: " ")
                if !Self.documentedCodes.contains(result.status) {
                    failures.append("exit \(result.status): \(shown): \(result.stderr.prefix(300))")
                } else if ["Fatal error", "Stack dump", "Traceback", "Current stack trace"].contains(where: { result.stderr.contains($0) }) {
                    failures.append("trace: \(shown): \(result.stderr.prefix(300))")
                } else if result.stderr.utf8.contains(0x1b) {
                    failures.append("raw ESC on stderr: \(shown)")
                }
            }
            index += batch.count
        }
        #expect(failures.isEmpty, Comment(rawValue: "\(failures.count) of \(invocations.count) invocations:\n" + failures.prefix(20).joined(separator: "\n")))
    }
}
