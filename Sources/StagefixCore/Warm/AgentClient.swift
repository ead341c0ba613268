// The command line's side of warm mode: hand the request to the agent, starting it on first use;
// nil means no agent could be reached or trusted, and the caller does the work itself.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum AgentClient {
    public static func send(_ request: FixtureRequest, socketPath: String, idleSeconds: Double, trace: (@Sendable (String) -> Void)?) -> FixtureReply? {
        var answer = reach(socketPath)
        // Started only where nobody else could be listening: a missing folder (the agent makes it) or ours.
        if case .nobody = answer, let pid = startAgent(socketPath: socketPath, idleSeconds: idleSeconds, trace: trace) {
            let deadline = Date().addingTimeInterval(5)
            var status: Int32 = 0
            while case .nobody = answer, Date() < deadline {
                // An agent that could not start (an unusable socket folder or path) has exited: stop waiting.
                let exited = waitpid(pid, &status, WNOHANG) == pid
                if !exited { usleep(10_000) }
                answer = reach(socketPath)
                if exited { break }
            }
        }
        let descriptor: Int32
        switch answer {
        case let .agent(connected):
            descriptor = connected
        case .nobody:
            trace?("no agent answered on \(socketPath); working without it")
            return nil
        case let .untrusted(reason):
            trace?("not using the agent: \(reason)")
            StandardStreams.printError("stagefix: warning: not using the warm agent: \(reason); working without it")
            return nil
        }
        defer { close(descriptor) }
        guard let body = try? JSONEncoder().encode(request), AgentSocket.writeAll(descriptor, Array(body) + [UInt8(ascii: "\n")]) else { return nil }
        // From here the work may run: whatever happens, it is not done a second time.
        guard let line = AgentSocket.readLine(descriptor), let reply = try? JSONDecoder().decode(FixtureReply.self, from: Data(line)) else {
            return .failure(SSH.SSHError.connectionLost(during: "a request to the warm agent", reason: "the agent ended before answering; the work may or may not have run"), json: request.wantsJSON)
        }
        return reply
    }

    private enum Answer {
        case agent(Int32)
        case nobody
        case untrusted(String)
    }

    /// A connection to the agent at `path`: made only when its folder is ours alone, and kept only
    /// when the process that accepted it runs as us (another user may have listened there first).
    private static func reach(_ path: String) -> Answer {
        switch AgentSocketFolder.inspect(AgentSocket.folder(of: path)) {
        case .missing: return .nobody
        case let .untrusted(reason): return .untrusted(reason)
        case .ours: break
        }
        guard let descriptor = connect(path) else { return .nobody }
        let peer = PeerCredentials.uid(of: descriptor)
        guard peer == getuid() else {
            close(descriptor)
            return .untrusted("the process listening on \(path) runs as \(peer.map { "uid \($0)" } ?? "an unknown user"), not as you (uid \(getuid()))")
        }
        return .agent(descriptor)
    }

    static func connect(_ path: String) -> Int32? {
        guard var address = try? AgentSocket.address(path) else { return nil }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        if connected == 0 { return descriptor }
        close(descriptor)
        return nil
    }

    /// Marks every descriptor above stderr close-on-exec (a parent may have leaked some to us).
    static func closeInheritedDescriptorsOnExec() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let descriptor = Int32(name), descriptor > 2 else { continue }
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// `stagefix agent` in its own session, detached from our terminal and pipes.
    static func startAgent(socketPath: String, idleSeconds: Double, trace: (@Sendable (String) -> Void)?) -> pid_t? {
        guard let binary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let arguments = [binary, "agent", "--socket", socketPath, "--idle", String(Int(idleSeconds))]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, 0x80)  // POSIX_SPAWN_SETSID (glibc 2.26+; not imported)
        // The agent outlives us: it must not hold our caller's pipes (a test runner waits for their EOF).
        closeInheritedDescriptorsOnExec()
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, binary, &actions, &attributes, argv, environ)
        trace?(rc == 0 ? "started the warm agent (pid \(pid)) on \(socketPath)" : "cannot start the warm agent: \(String(cString: strerror(rc)))")
        return rc == 0 ? pid : nil
    }
}

import SSH
