// Issue 16 against the rig: what a compromised or sloppy staging server sends (its env file, its
// runner's output, its settings, its mail) exits with its documented code, quickly, and the binary's
// peak resident memory stays under 64 MiB, measured by the kernel.
import Foundation
import Testing

/// A run of the binary with its peak RSS (`ru_maxrss` of the child, from wait4 in a Python wrapper).
struct MeasuredRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var peakKilobytes: Int
    var milliseconds: Double

    static let bar = 64 * 1024  // KiB: issue 16's bound on peak RSS under every attack

    static func run(_ arguments: [String]) throws -> MeasuredRun {
        let script = """
            import json, resource, subprocess, sys, time
            start = time.monotonic()
            done = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, capture_output=True)
            print(json.dumps({"status": done.returncode, "stdout": done.stdout.decode("utf-8", "backslashreplace"),
                              "stderr": done.stderr.decode("utf-8", "backslashreplace"),
                              "kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "ms": (time.monotonic() - start) * 1000}))
            """
        let output = try runLocal("/usr/bin/python3", ["-c", script, Stagefix.binary] + arguments)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        return MeasuredRun(
            status: Int32(object["status"] as? Int ?? -1), stdout: object["stdout"] as? String ?? "", stderr: object["stderr"] as? String ?? "",
            peakKilobytes: object["kb"] as? Int ?? .max, milliseconds: object["ms"] as? Double ?? .infinity)
    }
}

// Under SiteDatabaseTests: the mirror sites share the rig's database, which other suites flush and count.
extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true) && Rig.plain != nil, "needs the rigs with their sites: run scripts/test"))
struct HostileServerTests {
    let rig = Rig.shared!

    /// A file in a mirror site, owned by the rig's user.
    private func plant(_ text: String, at path: String, mode: String = "600") throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try runLocal("/bin/chown", ["\(rig.user):\(rig.user)", path])
        try runLocal("/bin/chmod", [mode, path])
    }

    @Test func anEnvFileOfDoublingInterpolationsIsRefusedWith65InBoundedMemory() throws {
        let name = "staging-doubling.rig.test"
        var doubling = "V0=" + String(repeating: "x", count: 64) + "\n"
        for index in 1...48 { doubling += "V\(index)=${V\(index - 1)}${V\(index - 1)}\n" }
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": name], appending: "\n" + doubling)
        let lines = try String(contentsOfFile: mirror.directory + "/.env", encoding: .utf8).components(separatedBy: "\n")
        let line = try #require(lines.firstIndex { $0.hasPrefix("V15=") }) + 1
        let show = try MeasuredRun.run(["env", "show", "-F", mirror.sshConfig, "--timeout", "20", name])
        #expect(show.status == 65, "\(show.stderr)")
        #expect(show.stderr.contains("line \(line)") && show.stderr.contains("V15"), "\(show.stderr)")
        #expect(show.peakKilobytes <= MeasuredRun.bar, "peak RSS \(show.peakKilobytes) KiB")
        // The fixture path reads the same file: bounded too, and it says which key crossed the bound.
        let session = try MeasuredRun.run(["session", "create", "-F", mirror.sshConfig, "--timeout", "20", name, "doubling@example.com"])
        #expect(session.stderr.contains("V15"), "\(session.stderr)")
        #expect(session.status == 65, "\(session.stderr)")
        #expect(session.peakKilobytes <= MeasuredRun.bar, "peak RSS \(session.peakKilobytes) KiB")
    }

    @Test func aRunnerThatNeverEndsItsLineIsCutOffWith69InBoundedMemory() throws {
        let name = "staging-flood.rig.test"
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": name])
        // The site's "interpreter" answers the runner's start with 1.5 GiB and no newline.
        try plant("#!/bin/sh\nexec head -c 1610612736 /dev/zero\n", at: mirror.directory + "/flood-python", mode: "755")
        let config = try writeStagefixYML("hosts:\n  \(name):\n    role: staging\n    site:\n      python: ./flood-python\n")
        let result = try MeasuredRun.run(["session", "create", "-F", mirror.sshConfig, "-c", config, "--timeout", "20", name, "flood@example.com"])
        #expect(result.status == 69, "\(result.stderr)")
        #expect(result.stderr.contains("16 MiB without a line break"), "\(result.stderr)")
        #expect(result.peakKilobytes <= MeasuredRun.bar, "peak RSS \(result.peakKilobytes) KiB")
        #expect(result.milliseconds < 21_000)
    }
}
}

extension SiteDatabaseTests.HostileServerTests {
    @Test func anHTTPGetOfAHugeBodyIsStreamedAndCappedInBoundedMemory() throws {
        // A local server that answers with 400 MB and no Content-Length; the page check still works
        // on the kept start, and memory stays far below the body's size.
        let server = try HugeBodyServer(bytes: 400 << 20, start: "<html>needle</html>")
        defer { server.stop() }
        let playbook = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString.prefix(8)).yml").path
        try """
            name: huge
            steps:
              - http_get:
                  url: "http://127.0.0.1:\(server.port)/"
                  status: 200
                  contains: [needle]
            """.write(toFile: playbook, atomically: true, encoding: .utf8)
        let result = try MeasuredRun.run(["play", playbook, "--host", rig.host, "-F", rig.sshConfig, "--format", "json", "--timeout", "60"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("\"truncated\":true") || result.stdout.contains("\"truncated\" : true"), "\(result.stdout)")
        #expect(result.peakKilobytes <= MeasuredRun.bar, "peak RSS \(result.peakKilobytes) KiB")
    }
}

/// A one-shot HTTP/1.0 server in Python that sends `start`, then zeros up to `bytes`, then closes.
final class HugeBodyServer {
    let process = Process()
    let port: Int

    init(bytes: Int, start: String) throws {
        port = try freePort(on: "127.0.0.1")
        let script = """
            import socket, sys
            port, total, start = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
            listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port)); listener.listen(4)
            print("ready", flush=True)
            while True:
                client, _ = listener.accept()
                client.recv(65536)
                client.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Type: text/html\\r\\n\\r\\n" + start)
                chunk, sent = b"\\0" * 1048576, len(start)
                try:
                    while sent < total:
                        client.sendall(chunk[: total - sent]); sent += len(chunk)
                except OSError:
                    pass
                client.close()
            """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, String(port), String(bytes), start]
        let ready = Pipe()
        process.standardOutput = ready
        try process.run()
        _ = ready.fileHandleForReading.readData(ofLength: 6)
    }

    func stop() {
        // SIGKILL: the test runner's children may inherit SIGTERM ignored.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

extension SiteDatabaseTests.HostileServerTests {
    @Test func mailWaitSkipsBadEntriesAndHardLinkedCopiesAndStillFindsTheMessage() throws {
        // Inside the site's folder: a staging host's mail source never lies elsewhere (the guard's rule).
        let folder = rig["RIG_SITE_DIR"] + "/hostile-mail-\(UUID().uuidString.prefix(8))"
        for sub in ["new", "cur", "tmp"] { try FileManager.default.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true) }
        try runLocal("/bin/chown", ["-R", "\(rig.user):\(rig.user)", folder])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let mail = ["-F", rig.sshConfig, rig.host, "--source", "maildir:" + folder, "--timeout", "20"]
        let reset = try MeasuredRun.run(["mail", "reset"] + mail)
        #expect(reset.status == 0, "\(reset.stderr)")
        let new = folder + "/new"
        // 160 hard links to one 31 MB message (the finding: 4.1 GB peak), a folder, a FIFO, an
        // unreadable file, and the message the test waits for, whose subject and body hold ESC.
        let big = "From: x@example.com\r\nTo: edith@example.com\r\nSubject: big\r\n\r\n" + String(repeating: "A", count: 31_000_000) + "\r\n"
        try big.write(toFile: new + "/big-0", atomically: false, encoding: .utf8)
        for index in 1..<160 { try FileManager.default.linkItem(atPath: new + "/big-0", toPath: new + "/big-\(index)") }
        try FileManager.default.createDirectory(atPath: new + "/a-folder", withIntermediateDirectories: true)
        try runLocal("/usr/bin/mkfifo", [new + "/a-fifo"])
        try "To: edith@example.com\r\n\r\nsecret\r\n".write(toFile: new + "/unreadable", atomically: false, encoding: .utf8)
        let wanted = "From: site@example.com\r\nTo: edith@example.com\r\nSubject: login \u{1B}[31mlink\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\nYour link \u{1B}]0;pwned\u{7}: http://\(rig.host)/accounts/login?token=abc\r\n"
        try wanted.write(toFile: new + "/wanted \u{1B}[2J", atomically: false, encoding: .utf8)
        try runLocal("/bin/chown", ["-R", "\(rig.user):\(rig.user)", folder])
        try runLocal("/bin/chmod", ["000", new + "/unreadable"])
        let result = try MeasuredRun.run(["mail", "wait"] + mail + ["--to", "edith@example.com", "--subject", "login", "--keep"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Your link"), "\(result.stdout)")
        #expect(result.stderr.contains("unreadable") && result.stderr.contains("a-folder") && result.stderr.contains("big-"), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("\u{1B}"), "no raw ESC reaches the terminal")
        #expect(result.peakKilobytes <= MeasuredRun.bar, "peak RSS \(result.peakKilobytes) KiB")
        let list = try MeasuredRun.run(["mail", "list"] + mail)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("login \\x1b[31mlink"), "\(list.stdout)")
        #expect(!(list.stdout + list.stderr).contains("\u{1B}"))
    }
}
