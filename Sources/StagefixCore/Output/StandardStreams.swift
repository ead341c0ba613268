// Writing to stdout and stderr without buffering surprises: each call is written whole, at once.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum StandardStreams {
    public static func printOut(_ line: String) { write(line + "\n", to: 1) }
    /// One message line for a person (errors, warnings): control bytes in it are shown escaped.
    public static func printError(_ line: String) { write(shownOnTerminal(line) + "\n", to: 2) }

    /// Text as the terminal gets it: what came from arguments, files or the server may hold control
    /// bytes (an escape sequence would rewrite the screen), so C0 except line breaks, DEL and C1 are
    /// shown escaped (`\x1b`).
    public static func shownOnTerminal(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0.value != 0x0A) || (0x7F..<0xA0).contains($0.value) }) else { return text }
        var shown = String.UnicodeScalarView()
        let hex = Array("0123456789abcdef".unicodeScalars)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: shown.append(scalar)
            case 0x00..<0x20, 0x7F..<0xA0:
                shown.append(contentsOf: "\\x".unicodeScalars)
                shown.append(hex[Int(scalar.value >> 4)])
                shown.append(hex[Int(scalar.value & 0xF)])
            default: shown.append(scalar)
            }
        }
        return String(shown)
    }

    public static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { writeAll($0.baseAddress!, $0.count, to: descriptor) }
    }

    /// Loops over partial writes; gives up quietly if the reader went away (EPIPE).
    public static func writeAll(_ pointer: UnsafeRawPointer, _ count: Int, to descriptor: Int32) {
        var offset = 0
        while offset < count {
            let written = Glibc.write(descriptor, pointer + offset, count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// `-v` traces: one line each on stderr, with time since start.
public enum Trace {
    private static let sinceStart = Stopwatch()
    public static let toStandardError: @Sendable (String) -> Void = { message in
        StandardStreams.printError(String(format: "stagefix: [%7.1f ms] ", sinceStart.milliseconds) + message)
    }
}

import SSH
