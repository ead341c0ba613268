// Runs the built `stagefix` binary as users do (STAGEFIX_BINARY, set by scripts/test).
import Foundation
import Subprocess

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var milliseconds: Double
}

enum Stagefix {
    static var binary: String {
        ProcessInfo.processInfo.environment["STAGEFIX_BINARY"] ?? Rig.packageRoot + "/.build/debug/stagefix"
    }

    static var isAvailable: Bool { Rig.isAvailable && FileManager.default.isExecutableFile(atPath: binary) }

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> CommandResult {
        let start = Date()
        var env = Environment.inherit
        for (key, value) in environment { env = env.updating([.init(stringLiteral: key): value]) }
        // Empty stdin unless given: like a test runner's closed pipe.
        let result = try await Subprocess.run(
            .path(.init(binary)), arguments: .init(arguments), environment: env,
            input: .string(stdin ?? ""), output: .string(limit: 1 << 24), error: .string(limit: 1 << 20))
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return CommandResult(status: status, stdout: result.standardOutput, stderr: result.standardError, milliseconds: Date().timeIntervalSince(start) * 1000)
    }
}
