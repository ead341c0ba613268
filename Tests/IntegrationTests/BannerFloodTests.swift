// A "server" that never sends its SSH banner, only lines before it (issue 16): every such connect
// ends within --timeout + 1 s with its documented code, never hangs in libssh2's banner read.
import Foundation
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: Stagefix.binary), "needs the built binary"))
struct BannerFloodTests {
    /// A listener on loopback that writes `pattern` to each connection every `interval` seconds.
    private static let flooder = """
        import socket, sys, threading, time
        pattern, interval = sys.argv[1].encode().decode("unicode_escape").encode("latin-1"), float(sys.argv[2])
        server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(8)
        print(server.getsockname()[1], flush=True)
        def feed(conn):
            try:
                while True:
                    conn.sendall(pattern)
                    if interval: time.sleep(interval)
            except OSError:
                pass
        server.settimeout(10)
        try:
            while True:
                conn, _ = server.accept()
                threading.Thread(target=feed, args=(conn,), daemon=True).start()
        except OSError:
            pass
        """

    private func withFlooder(_ pattern: String, interval: Double, _ body: (Int) async throws -> Void) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.flooder, pattern, String(interval)]
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // SIGKILL: the test runner's threads block SIGTERM, and children inherit that.
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try await body(try #require(Int(line)))
    }

    private func sshConfig(port: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flood-\(UUID().uuidString.prefix(8))-ssh_config").path
        try "Host flood.staging.test\n    HostName 127.0.0.1\n    Port \(port)\n    StrictHostKeyChecking yes\n    UserKnownHostsFile /dev/null\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(arguments: [
        ("junk before the banner\\r\\n", 0.0, Int32(69)),   // a flood of lines: the line cap
        ("x", 0.0, Int32(69)),                                // one endless line: the length cap
        ("slow line\\n", 0.2, Int32(75)),                      // a drip: the deadline
    ])
    func aServerThatNeverSendsItsBannerEndsWithinTheTimeout(pattern: String, interval: Double, expected: Int32) async throws {
        try await withFlooder(pattern, interval: interval) { port in
            // Timed to the process's exit (a parallel test's child can hold our pipes open longer).
            let result = try Stagefix.runTimed(["exec", "-F", try sshConfig(port: port), "--timeout", "3", "flood.staging.test", "--", "true"])
            #expect(result.status == expected, "\(result.stderr)")
            #expect(result.milliseconds < 4000, "took \(result.milliseconds) ms")
            #expect(result.stderr.contains("banner"), "\(result.stderr)")
        }
    }
}
