// The SSH layer against a real OpenSSH sshd: exec, streams, stdin, exit status and signals, timeouts, faults.
import Crypto
import Foundation
import SSH
import Testing

@Suite(.enabled(if: Rig.isAvailable, "needs the rig: run scripts/test"))
struct TransportTests {
    let rig = Rig.shared!

    @Test func aCommandsExitStatusIsReported() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        #expect(try session.capture("true", timeout: 10).exit == RemoteExit(status: 0))
        #expect(try session.capture("exit 42", timeout: 10).exit == RemoteExit(status: 42))
        #expect(try session.capture("no-such-command-here", timeout: 10).exit.status == 127)
    }

    @Test func aSignalThatKillsTheCommandIsReportedByName() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        let result = try session.capture("kill -TERM $$", timeout: 10)
        #expect(result.exit.signal == "TERM")
        #expect(!result.exit.succeeded)
    }

    @Test func stdoutAndStderrAreKeptApart() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        let result = try session.capture("echo out; echo err >&2; echo out2", timeout: 10)
        #expect(String(decoding: result.stdout, as: UTF8.self) == "out\nout2\n")
        #expect(String(decoding: result.stderr, as: UTF8.self) == "err\n")
    }

    @Test func stdinDataReachesTheCommandThenEOF() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        let input = Array("line one\n$HOME `x` 'q' \"d\"\n".utf8) + [0xff, 0x00, 0x01]
        let result = try session.capture("cat; echo done >&2", stdin: input, timeout: 10)
        #expect(result.stdout == input)
        #expect(String(decoding: result.stderr, as: UTF8.self) == "done\n")
    }

    @Test func tenMegabytesStreamIntactInChunks() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        var hasher = SHA256()
        var total = 0
        var largestChunk = 0
        var stderr: [UInt8] = []
        // The remote side prints the checksum of exactly what it sent, on stderr.
        let command = "head -c 10485760 /dev/urandom > /tmp/stagefix-10m.$$; cat /tmp/stagefix-10m.$$; sha256sum < /tmp/stagefix-10m.$$ >&2; rm -f /tmp/stagefix-10m.$$"
        let exit = try session.run(RemoteCommand(command, stdout: { chunk in
            hasher.update(bufferPointer: chunk)
            total += chunk.count
            largestChunk = max(largestChunk, chunk.count)
        }, stderr: { stderr.append(contentsOf: $0) }), timeout: 60)
        #expect(exit.succeeded)
        #expect(total == 10_485_760)
        // Delivered as it arrives, never held whole.
        #expect(largestChunk <= 65536)
        let local = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        #expect(String(decoding: stderr, as: UTF8.self).hasPrefix(local))
    }

    @Test func alotOfStderrDoesNotStallStdout() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        var out = 0
        var err = 0
        let exit = try session.run(RemoteCommand("head -c 4194304 /dev/zero >&2; echo finished", stdout: { out += $0.count }, stderr: { err += $0.count }), timeout: 30)
        #expect(exit.succeeded)
        #expect(err == 4_194_304)
        #expect(out == 9)
    }

    @Test func severalChannelsRunAtOnceOnOneConnection() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        var outputs = [[UInt8]](repeating: [], count: 3)
        let commands = (0..<3).map { index in
            RemoteCommand("sleep 0.6; echo \(index)", stdout: { outputs[index].append(contentsOf: $0) })
        }
        let watch = Stopwatch()
        let exits = try session.runConcurrently(commands, timeout: 10)
        #expect(exits.allSatisfy { $0.succeeded })
        #expect(outputs.map { String(decoding: $0, as: UTF8.self) } == ["0\n", "1\n", "2\n"])
        #expect(watch.milliseconds < 1500, "three 0.6 s commands took \(watch.milliseconds) ms: not concurrent")
    }

    @Test func aCommandOutlivingTheTimeoutEndsWithTimedOut() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        let watch = Stopwatch()
        #expect {
            _ = try session.capture("sleep 60", timeout: 2)
        } throws: { error in
            guard case SSHError.timedOut(let during, let seconds)? = error as? SSHError else { return false }
            return during.contains("sleep 60") && seconds == 2
        }
        #expect(watch.milliseconds < 4000)
    }

    @Test func aTimedOutCommandIsStoppedOnTheServer() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        // A duration no other test uses, to find exactly this command in the process list.
        let seconds = "61.\(Int.random(in: 100000...999999))"
        #expect(throws: SSHError.self) {
            _ = try session.capture("sleep \(seconds); echo never", timeout: 1)
        }
        let checker = try SSHSession.connect(rig.connectionOptions())
        let survivors = try checker.capture("pgrep -f '[s]leep \(seconds)' || true", timeout: 5)
        #expect(String(decoding: survivors.stdout, as: UTF8.self).isEmpty, "the timed-out command still runs on the server")
    }

    @Test func aClosedPortIsUnreachable() throws {
        // Bind a port and close it again: nothing listens there now.
        let port = try freePort(on: "127.0.0.1")
        var options = rig.connectionOptions(timeout: 5)
        options.host = "127.0.0.1"
        options.port = port
        #expect {
            _ = try SSHSession.connect(options)
        } throws: { error in
            if case .connectFailed(_, port, let reason)? = error as? SSHError { return reason.contains("refused") }
            return false
        }
    }

    @Test func anUnresolvableNameIsReported() throws {
        var options = rig.connectionOptions(timeout: 5)
        options.host = "no-such-host.invalid"
        #expect {
            _ = try SSHSession.connect(options)
        } throws: { error in
            if case .unresolvable(let host, _)? = error as? SSHError { return host == "no-such-host.invalid" }
            return false
        }
    }

    @Test func aServerThatNeverSpeaksTimesOut() throws {
        let listener = try SilentListener(address: "127.0.0.1")
        var options = rig.connectionOptions(timeout: 1.5)
        options.host = "127.0.0.1"
        options.port = listener.port
        let watch = Stopwatch()
        #expect {
            _ = try SSHSession.connect(options)
        } throws: { error in
            if case .timedOut(let during, _)? = error as? SSHError { return during.contains("handshake") }
            return false
        }
        #expect(watch.milliseconds < 3000)
    }

    @Test func anUnknownHostKeyIsRefusedBeforeAnythingRuns() throws {
        let marker = "/tmp/stagefix-marker-\(UUID().uuidString)"
        let options = rig.connectionOptions(policy: PinnedHostKey(fingerprint: "SHA256:somebody-else"))
        #expect(throws: SSHError.self) {
            let session = try SSHSession.connect(options)
            _ = try session.capture("touch \(marker)", timeout: 5)
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func aKeyTheServerDoesNotKnowFailsAuthenticationNamingIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = directory + "/stranger"
        try runLocal("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
        let options = rig.connectionOptions(authentication: [.privateKey(path: key, required: true, passphrase: { _ in nil })])
        #expect {
            _ = try SSHSession.connect(options)
        } throws: { error in
            guard case .authenticationFailed(_, _, let attempts, let hint)? = error as? SSHError else { return false }
            return attempts.contains { $0.detail == key } && hint == nil
        }
    }

    @Test func anRSAKeyFailureExplainsTheSHA1Problem() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = directory + "/id_rsa"
        try runLocal("/usr/bin/ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key])
        let options = rig.connectionOptions(authentication: [.privateKey(path: key, required: true, passphrase: { _ in nil })])
        #expect {
            _ = try SSHSession.connect(options)
        } throws: { error in
            guard case .authenticationFailed(_, _, _, let hint)? = error as? SSHError else { return false }
            return hint?.contains("ed25519") == true && hint?.contains("SHA-1") == true
        }
    }

    @Test func anEncryptedKeyUsesThePassphraseProvider() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = directory + "/id_ed25519"
        try runLocal("/bin/cp", [rig.clientKey, key])
        try runLocal("/bin/chmod", ["600", key])
        try runLocal("/usr/bin/ssh-keygen", ["-q", "-p", "-N", "correct horse", "-f", key])
        let wrong = rig.connectionOptions(authentication: [.privateKey(path: key, required: true, passphrase: { _ in "wrong" })])
        #expect(throws: SSHError.self) { _ = try SSHSession.connect(wrong) }
        let right = rig.connectionOptions(authentication: [.privateKey(path: key, required: true, passphrase: { _ in "correct horse" })])
        let session = try SSHSession.connect(right)
        #expect(try session.capture("true", timeout: 5).exit.succeeded)
    }

    @Test func sftpReplacesAFileAtomicallyKeepingItsMode() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        let name = "stagefix-sftp-\(UUID().uuidString.prefix(8))"
        _ = try session.capture("printf 'old\\n' > \(name) && chmod 640 \(name)", timeout: 5)
        defer { _ = try? session.capture("rm -f \(name)", timeout: 5) }
        let sftp = try SFTPClient(session: session, timeout: 10)
        #expect(try sftp.readFile("~/" + name) == Array("old\n".utf8))
        try sftp.writeFileAtomically("~/" + name, contents: Array("new contents\n".utf8))
        #expect(try sftp.readFile(name) == Array("new contents\n".utf8))
        #expect(try sftp.attributes(of: name)?.permissions == 0o640)
        // No temporary file left behind.
        let listing = try session.capture("ls -a | grep -c stagefix-sftp || true", timeout: 5)
        #expect(String(decoding: listing.stdout, as: UTF8.self) == "1\n")
    }

    @Test func sftpNamesAMissingFileAndCapsSize() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        let sftp = try SFTPClient(session: session, timeout: 10)
        #expect(throws: SSHError.remoteFile(path: "no/such/file", reason: "no such file")) {
            _ = try sftp.readFile("no/such/file")
        }
        #expect(try sftp.attributes(of: "no/such/file") == nil)
        #expect {
            _ = try sftp.readFile("/etc/services", maxBytes: 100)
        } throws: { error in
            if case .remoteFile(_, let reason)? = error as? SSHError { return reason.contains("larger than 100") }
            return false
        }
    }

    /// Sizes around the 32 KiB read and the 4-read batch, where short reads and a second batch begin;
    /// with sshd's real first handle guessed (the first batch travels with the OPEN), and a wrong guess
    /// (that batch's refusals are dropped and the reads asked again).
    @Test(arguments: [0, 1, 4095, 32767, 32768, 32769, 131_071, 131_072, 131_073, 300_001], [[0, 0, 0, 0], [0, 0, 0, 7]] as [[UInt8]])
    func thePipelinedReadReturnsTheFileByteForByte(size: Int, handleGuess: [UInt8]) throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        let name = "stagefix-pipelined-\(size)-\(UUID().uuidString.prefix(8))"
        _ = try session.capture("head -c \(size) /dev/urandom > \(name)", timeout: 10)
        defer { _ = try? session.capture("rm -f \(name)", timeout: 5) }
        let expected = try session.capture("cat \(name)", timeout: 10).stdout
        #expect(expected.count == size)
        let read = try session.readFilePipelined("~/" + name, timeout: 10, handleGuess: handleGuess)
        #expect(read.contents == expected)
        // Four 32 KiB reads per batch; a file that fills a batch exactly needs one more to see its end.
        // The right guess's batch is the first of them; a wrong one's is sent in vain.
        let needed = size / 131_072 + 1
        #expect(read.batches == (handleGuess == [0, 0, 0, 0] ? needed : needed + 1), "size \(size)")
        // The session stays usable after the read (its channel closed without waiting).
        #expect(try session.capture("echo still here", timeout: 5).stdout == Array("still here\n".utf8))
        #expect(try session.readFilePipelined(name, timeout: 10, handleGuess: handleGuess).contents == expected)
    }

    @Test func thePipelinedReadNamesAMissingOrUnreadableFileAndCapsSize() throws {
        let session = try SSHSession.connect(rig.connectionOptions())
        #expect(throws: SSHError.remoteFile(path: "no/such/file", reason: "no such file")) {
            _ = try session.readFilePipelined("no/such/file", timeout: 10)
        }
        let name = "stagefix-unreadable-\(UUID().uuidString.prefix(8))"
        _ = try session.capture("echo secret > \(name) && chmod 000 \(name)", timeout: 5)
        defer { _ = try? session.capture("rm -f \(name)", timeout: 5) }
        #expect(throws: SSHError.remoteFile(path: name, reason: "permission denied")) {
            _ = try session.readFilePipelined(name, timeout: 10)
        }
        #expect {
            _ = try session.readFilePipelined("/etc/services", maxBytes: 100, timeout: 10)
        } throws: { error in
            if case .remoteFile(_, let reason)? = error as? SSHError { return reason.contains("larger than 100") }
            return false
        }
    }
}

@Suite(.enabled(if: Rig.isAvailable, "needs the rig: run scripts/test"))
struct ConnectionLossTests {
    @Test func sshdKilledMidCommandIsConnectionLostNotAHang() async throws {
        let rig = try await Rig.startPrivate()
        defer { Task { await rig.stop() } }
        let session = try SSHSession.connect(rig.connectionOptions())
        // The command reports its parent, the per-connection sshd, and the test kills that process.
        var firstLine = ""
        let watch = Stopwatch()
        #expect {
            _ = try session.run(RemoteCommand("echo $PPID; sleep 30", stdout: { chunk in
                firstLine += String(decoding: chunk, as: UTF8.self)
                // Only a whole line: a chunk may end in the middle of the number.
                if firstLine.hasSuffix("\n"), let pid = Int32(firstLine.dropLast()), pid > 1 { kill(pid, SIGKILL) }
            }), timeout: 20)
        } throws: { error in
            if case .connectionLost? = error as? SSHError { return true }
            return false
        }
        #expect(watch.milliseconds < 5000)
        await rig.stop()
    }
}
