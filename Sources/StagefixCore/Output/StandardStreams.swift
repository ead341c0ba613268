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
    /// bytes (an escape sequence would rewrite the screen); line breaks stay, the rest is escaped.
    public static func shownOnTerminal(_ text: String) -> String {
        TerminalText.escapedKeepingLines(text)
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
