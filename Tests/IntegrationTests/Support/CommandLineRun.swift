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

    /// `workingDirectory`: where it runs (which stagefix.yml it finds); nil, the test's own.
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], workingDirectory: String? = nil) async throws -> CommandResult {
        let start = Date()
        var env = Environment.inherit
        for (key, value) in environment { env = env.updating([.init(stringLiteral: key): value]) }
        // Empty stdin unless given: like a test runner's closed pipe.
        let result = try await Subprocess.run(
            .path(.init(binary)), arguments: .init(arguments), environment: env, workingDirectory: workingDirectory.map { .init($0) },
            input: .string(stdin ?? ""), output: .string(limit: 1 << 24), error: .string(limit: 1 << 20))
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return CommandResult(status: status, stdout: result.standardOutput, stderr: result.standardError, milliseconds: Date().timeIntervalSince(start) * 1000)
    }

    /// For timing: waits on this thread, so a busy cooperative pool cannot delay the measurement.
    static func runTimed(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let start = Date()
        try process.run()
        process.waitUntilExit()
        let elapsed = Date().timeIntervalSince(start) * 1000
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            stderr: String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            milliseconds: elapsed)
    }
}

/// A stagefix.yml with `text`, in a fresh folder of its own; its path.
func writeStagefixYML(_ text: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-yml-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try text.write(toFile: directory + "/stagefix.yml", atomically: true, encoding: .utf8)
    return directory + "/stagefix.yml"
}
