// ProxyCommand: started as OpenSSH starts it (`exec COMMAND` through $SHELL -c), speaking on its stdin/stdout.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The child's stdin and stdout are one end of a socket pair; the session gets the other end, so no
/// pump is needed. Ended (SIGHUP, as ssh does, then SIGKILL) when the session lets go of it.
final class ProxyCommandProcess: SessionSocket {
    let descriptor: Int32
    let address: String
    private let pid: pid_t

    private init(descriptor: Int32, address: String, pid: pid_t) {
        self.descriptor = descriptor
        self.address = address
        self.pid = pid
    }

    /// `%h` host, `%p` port, `%r` user, `%n` the name as typed, `%%` a percent sign.
    static func expand(_ command: String, host: String, port: Int, user: String, originalHost: String) -> String {
        var result = ""
        var characters = command.makeIterator()
        while let character = characters.next() {
            guard character == "%" else { result.append(character); continue }
            switch characters.next() {
            case "h": result += host
            case "p": result += String(port)
            case "r": result += user
            case "n": result += originalHost
            case "%": result += "%"
            case let other?: result += "%" + String(other)
            case nil: result += "%"
            }
        }
        return result
    }

    /// Starts `command` (already expanded) for a connection to `host`.
    static func start(_ command: String, host: String) throws -> ProxyCommandProcess {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SSHError.connectFailed(host: host, port: 0, reason: "socketpair for the ProxyCommand: \(String(cString: strerror(errno)))")
        }
        let ours = pair[0], theirs = pair[1]
        defer { close(theirs) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, theirs, 0)
        posix_spawn_file_actions_adddup2(&actions, theirs, 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A SIGPIPE we ignore must not stay ignored in the child.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        let environment = ProcessInfo.processInfo.environment
        let shell = environment["SHELL"].flatMap { $0.isEmpty ? nil : $0 } ?? "/bin/sh"
        let arguments = [shell, "-c", "exec " + command]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, shell, &actions, &attributes, &argv, environ)
        guard status == 0 else {
            close(ours)
            throw SSHError.connectFailed(host: host, port: 0, reason: "cannot start the ProxyCommand with \(shell): \(String(cString: strerror(status)))")
        }
        _ = fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK)
        return ProxyCommandProcess(descriptor: ours, address: host, pid: pid)
    }

    deinit {
        close(descriptor)
        // As ssh: the proxy command is hung up on when the session ends, then reaped (bounded).
        kill(pid, SIGHUP)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}
