// Runs a Python snippet that talks to the server with smtplib, a real-world client the server must satisfy.
import Foundation

struct PythonResult {
    var status: Int32
    /// stdout and stderr together, so a traceback shows up in a failing test.
    var output: String
}

/// `script` gets `port` (the server's) and `smtplib`, `json`, `base64`, `sys` already imported; it prints its findings as one JSON line.
func runSMTPClient(port: Int, _ script: String) async throws -> PythonResult {
    let program = """
    import base64, json, smtplib, sys
    port = int(sys.argv[1])
    \(script)
    """
    return try await withCheckedThrowingContinuation { continuation in
        // Off the cooperative pool: waiting for a child process blocks a thread.
        DispatchQueue.global().async {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", program, String(port)]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            // Drained before waiting, so a chatty child cannot fill the pipe and stall.
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            continuation.resume(returning: PythonResult(
                status: process.terminationStatus,
                output: String(decoding: data, as: UTF8.self)
            ))
        }
    }
}

/// The JSON object on the script's last output line.
func decodeJSON(_ result: PythonResult) throws -> [String: Any] {
    guard let line = result.output.split(separator: "\n").last,
          let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else { throw PythonOutputError.noJSON(result.output) }
    return object
}

enum PythonOutputError: Error {
    case noJSON(String)
}
