// Asks for a key's passphrase: STAGEFIX_KEY_PASSPHRASE first, else the terminal (never in CI).
import Foundation
import SSH
#if canImport(Glibc)
import Glibc
#endif

enum TerminalPrompt {
    static let passphraseProvider: PassphraseProvider = { keyPath in
        if let fromEnvironment = ProcessInfo.processInfo.environment["STAGEFIX_KEY_PASSPHRASE"] {
            return fromEnvironment
        }
        return readSecret(prompt: "Enter passphrase for key '\(keyPath)': ")
    }

    /// Reads a visible line from /dev/tty; nil when there is no terminal.
    static func readLine(prompt: String) -> String? {
        let tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard tty >= 0 else { return nil }
        defer { close(tty) }
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(tty, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
        return String(decoding: line, as: UTF8.self)
    }

    /// Reads a line from /dev/tty with echo off; nil when there is no terminal.
    static func readSecret(prompt: String) -> String? {
        let tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard tty >= 0 else { return nil }
        defer { close(tty) }
        var saved = termios()
        guard tcgetattr(tty, &saved) == 0 else { return nil }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        tcsetattr(tty, TCSAFLUSH, &silent)
        defer {
            tcsetattr(tty, TCSAFLUSH, &saved)
            _ = write(tty, "\n", 1)
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(tty, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
        return String(decoding: line, as: UTF8.self)
    }
}
