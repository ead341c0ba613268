// `mail serve` for real: Python's smtplib into the local capture server, and the mail rig's Django
// site sending its login link over SMTP (Django's SMTP backend) through `--via`, the SSH remote
// forward on the server's loopback; `mail wait --source maildir:DIR` reads the Maildir without SSH.
import Foundation
import Testing

/// The mail rig `scripts/test` brings up: a staging site whose EMAIL_BACKEND is Django's SMTP
/// backend, sending to 127.0.0.1:RIG_SMTP_PORT (where `mail serve --via` listens on the server).
let mailRig: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_MAIL_RIG_ENV"].flatMap { Rig.load(path: $0) }

/// A running `stagefix mail serve`, its first line (the "listening" event) already read.
final class CaptureServerProcess {
    let process = Process()
    let listening: [String: Any]
    private let output = Pipe()
    private let errors = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Stagefix.binary)
        process.arguments = ["mail", "serve", "--format", "json"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        var line: [UInt8] = []
        let deadline = Date().addingTimeInterval(30)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let first = line.split(separator: UInt8(ascii: "\n")).first.map { Array($0) } ?? []
        guard let event = try? JSONSerialization.jsonObject(with: Data(first)) as? [String: Any], event["event"] as? String == "listening" else {
            process.terminate()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw RigFailure(message: "mail serve did not start: \(String(decoding: line, as: UTF8.self)) \(stderr)")
        }
        listening = event
    }

    var localPort: Int { Int((listening["listen"] as? String ?? "").split(separator: ":").last ?? "") ?? 0 }

    /// SIGTERM, then what it printed after the first line, and how it exited.
    func stop() -> (status: Int32, stdout: String, stderr: String) {
        process.terminate()
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: rest, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

@Suite(.enabled(if: Stagefix.isAvailable, "needs the built binary and the rig: run scripts/test"))
struct MailServeTests {
    private func temporaryFolder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-capture-\(UUID().uuidString.prefix(8))").path
    }

    @Test func smtplibMailLandsInTheMaildirAndMailWaitReadsItWithoutSSH() async throws {
        let folder = temporaryFolder()
        let server = try CaptureServerProcess(["--listen", "127.0.0.1:0", "--maildir", folder])
        let port = server.localPort
        #expect(port > 0)
        // Two messages on one connection, the first with a line that starts with a dot.
        let script = """
            import smtplib, sys
            from email.message import EmailMessage
            def message(to, subject, body):
                m = EmailMessage(); m["From"] = "site@staging.test"; m["To"] = to; m["Subject"] = subject
                m.set_content(body); return m
            with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as smtp:
                smtp.send_message(message("edith@example.com", "Your login link", ".hidden dot line\\nhttp://staging.test/accounts/login?token=abc123\\n"))
                smtp.send_message(message("bob@example.com", "Other", "hello bob\\n"))
            """
        _ = try runLocal("/usr/bin/env", ["python3", "-c", script, String(port)])

        // The dot-stuffed line arrived with its one dot.
        let kept = try await Stagefix.run(["mail", "wait", "--source", "maildir:\(folder)", "--to", "edith@example.com", "--keep", "--timeout", "5"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(kept.stdout.hasPrefix(".hidden dot line\n"), "\(kept.stdout)")
        let link = try await Stagefix.run(["mail", "wait", "--source", "maildir:\(folder)", "--to", "edith@example.com", "--link", "token=", "--timeout", "5"])
        #expect(link.status == 0, "\(link.stderr)")
        #expect(link.stdout == "http://staging.test/accounts/login?token=abc123\n")
        let json = try await Stagefix.run(["mail", "wait", "--source", "maildir:\(folder)", "--to", "bob@example.com", "--format", "json", "--keep", "--timeout", "5"])
        #expect(json.status == 0, "\(json.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let headers = (document?["message"] as? [String: Any])?["headers"] as? [[String]] ?? []
        #expect(headers.contains(["X-MailFrom", "<site@staging.test>"]), "\(headers)")
        #expect(headers.contains(["X-RcptTo", "bob@example.com"]), "\(headers)")
        #expect(headers.contains { $0.first == "X-Peer" && $0.last?.hasPrefix("127.0.0.1:") == true }, "\(headers)")

        let stopped = server.stop()
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stdout.contains("\"event\":\"stopped\"") && stopped.stdout.contains("\"stored\":2"), "\(stopped.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/new").count == 1, "edith's was consumed, bob's kept")
    }

    @Test func aTakenPortOrABadAddressIsAClearErrorWithTheDocumentedCode() async throws {
        let holder = try CaptureServerProcess(["--listen", "127.0.0.1:0", "--maildir", temporaryFolder()])
        defer { _ = holder.stop() }
        let taken = try await Stagefix.run(["mail", "serve", "--listen", "127.0.0.1:\(holder.localPort)", "--maildir", temporaryFolder(), "--duration", "1"])
        #expect(taken.status == 78, "\(taken.stderr)")
        #expect(taken.stderr.contains("already in use"), "\(taken.stderr)")
        #expect(taken.stderr.split(separator: "\n").count == 1, "one line: \(taken.stderr)")
        let bad = try await Stagefix.run(["mail", "serve", "--listen", "127.0.0.1:http", "--duration", "1"])
        #expect(bad.status == 64, "\(bad.stderr)")
    }

    @Test(.enabled(if: mailRig != nil, "needs the mail rig: run scripts/test"))
    func theSitesSMTPLoginLinkThroughTheForwardLogsAnHTTPClientIn() async throws {
        let rig = mailRig!
        let folder = temporaryFolder()
        let server = try CaptureServerProcess(["--via", rig.host, "-F", rig.sshConfig, "--listen", "127.0.0.1:0", "--remote-port", rig["RIG_SMTP_PORT"], "--maildir", folder])
        #expect(server.listening["remote"] as? String == "127.0.0.1:\(rig["RIG_SMTP_PORT"])")

        // The site's own form: Django's SMTP backend connects to 127.0.0.1:PORT on the server.
        let answer = try runLocal("/usr/bin/curl", ["-s", "-X", "POST", "--data-urlencode", "email=edith@example.com"] + rig.siteCurlOptions + [rig.siteNameURL + "accounts/send_login_email"])
        #expect(answer.contains("check your email"), "\(answer)")
        let link = try await Stagefix.run(["mail", "wait", "--source", "maildir:\(folder)", "--to", "edith@example.com", "--subject", "login link", "--header", "X-Superlists-Notification-Type=login", "--link", "token=", "--timeout", "10"])
        #expect(link.status == 0, "\(link.stderr)")
        let url = link.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix(rig.siteNameURL + "accounts/login?token="), "\(url)")
        let jar = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-jar-\(UUID().uuidString)").path
        let page = try runLocal("/usr/bin/curl", ["-s", "-c", jar] + rig.siteCurlOptions + [url])
        #expect(page.contains("logged in as edith@example.com"), "\(page)")

        let stopped = server.stop()
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stdout.contains("\"stored\":1"), "\(stopped.stdout)")
        // The forward is gone with it: nothing listens on the server's port any more.
        let probe = try await Stagefix.run(["exec", "-F", rig.sshConfig, rig.host, "--", "exec 3<>/dev/tcp/127.0.0.1/\(rig["RIG_SMTP_PORT"])"])
        #expect(probe.status != 0, "\(probe.stderr)")
    }

    @Test(.enabled(if: Rig.production != nil, "needs the production rig: run scripts/test"))
    func forwardingFromProductionIsRefusedAndNothingListens() async throws {
        let production = Rig.production!
        let folder = temporaryFolder()
        let refused = try await Stagefix.run(["mail", "serve", "--via", production.host, "-F", production.sshConfig, "--listen", "127.0.0.1:0", "--maildir", folder, "--duration", "2"])
        #expect(refused.status == 77, "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder), "the guard comes before the server: no Maildir")
    }
}
