// The fixture lock on a staging host: two test runs or pipelines never flush each other's fixtures.
// A lease file on the server, created atomically (sh noclobber, O_EXCL), naming its owner, kept
// fresh by a heartbeat; a lock whose owner died (its pid gone on this machine, or no heartbeat for
// its declared lease) is broken, and a waiter that runs out of time names the holder (75).
import Foundation
import SSH

/// What a lock file says about its holder.
public struct LockOwner: Sendable, Equatable, Codable {
    public var owner: String
    public var machine: String
    public var pid: Int32
    /// The process's start time (from /proc), so a reused pid is not mistaken for the owner.
    public var pidStart: String?
    public var command: String
    public var acquired: String
    public var nonce: String
    /// Without a heartbeat for this long the lock is stale.
    public var staleAfterSeconds: Int

    enum CodingKeys: String, CodingKey {
        case owner, machine, pid, command, acquired, nonce
        case pidStart = "pid_start"
        case staleAfterSeconds = "stale_after_seconds"
    }

    public var description: String {
        "\(owner) (pid \(pid), `\(command)`) since \(acquired)"
    }
}

public enum LockStaleness {
    /// Why a held lock may be broken, or nil while its owner may still be alive.
    /// `age` is seconds since the last heartbeat, measured on the server's clock.
    public static func reason(holder: LockOwner?, age: Int, localMachine: String, isAlive: (Int32, String?) -> Bool) -> String? {
        guard let holder else {
            // Being written right now, or garbage: only old garbage is stale.
            return age > 30 ? "the lock file is unreadable and \(age) s old" : nil
        }
        if holder.machine == localMachine && !isAlive(holder.pid, holder.pidStart) {
            return "its owner (pid \(holder.pid) on this machine) is gone"
        }
        if age > holder.staleAfterSeconds {
            return "no heartbeat from its owner for \(age) s (lease \(holder.staleAfterSeconds) s)"
        }
        return nil
    }
}

public final class HostLock {
    public let host: String
    public let path: String
    public let nonce: String
    /// Held by a parent stagefix (`stagefix lock HOST -- pytest` running `stagefix play`): not ours to release.
    public let isInherited: Bool
    private let session: SSHSession
    /// When set, the site's Django runner (if running) takes and releases the lock: one request on a
    /// channel that is open anyway, instead of a channel and an exec of its own.
    private let site: StagingSite?
    private let timeout: Double
    private var lastHeartbeat = Date()
    private var trace: (@Sendable (String) -> Void)?
    private var released = false

    /// The environment variable through which `stagefix lock` tells the commands it runs which locks they hold.
    public static let tokensVariable = "STAGEFIX_LOCK_TOKENS"
    static let heartbeatInterval: TimeInterval = 10

    private init(host: String, path: String, nonce: String, isInherited: Bool, session: SSHSession, site: StagingSite?, timeout: Double) {
        self.host = host
        self.path = path
        self.nonce = nonce
        self.isInherited = isInherited
        self.session = session
        self.site = site
        self.timeout = timeout
    }

    /// `~/.stagefix/locks/HOST.lock` on the server (relative: exec channels start in the login directory).
    public static func path(for host: String) -> String {
        let safe = String(host.lowercased().unicodeScalars.map { scalar -> Character in
            let allowed = ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "." || scalar == "-" || scalar == "_"
            return allowed ? Character(scalar) : "_"
        })
        return ".stagefix/locks/\(safe).lock"
    }

    /// Takes the lock, waiting up to `waitSeconds` for another holder; 75 naming the holder when it does not come free.
    /// With `runnerSite`, the site's Django runner (started here if it is not yet) takes and releases
    /// it; only for a site whose runner sees the host's files (no `command_prefix` container).
    public static func acquire(
        session: SSHSession, host: String, command: String, waitSeconds: Double, commandTimeout: Double,
        runnerSite: StagingSite? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment, trace: (@Sendable (String) -> Void)? = nil
    ) throws -> HostLock {
        let path = path(for: host)
        let inherited = inheritedTokens(environment)
        let me = LockOwner(
            owner: "\(environment["USER"] ?? NSUserName())@\(localMachine)", machine: localMachine, pid: getpid(),
            pidStart: processStartTime(getpid()), command: command, acquired: ISO8601DateFormatter().string(from: Date()),
            nonce: String(UInt64.random(in: 0...UInt64.max), radix: 16), staleAfterSeconds: max(60, Int(commandTimeout * 2) + 10))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let record = Array((try encoder.encode(me)) + [UInt8(ascii: "\n")])
        let deadline = Date().addingTimeInterval(waitSeconds)
        let quoted = ShellQuoting.quote(path)
        let script = """
            l=\(quoted); mkdir -p "${l%/*}" || exit 3
            if (set -C; cat >"$l") 2>/dev/null; then echo acquired; exit 0; fi
            echo "held $(date +%s) $(stat -c %Y "$l" 2>/dev/null || echo 0)"; cat "$l" 2>/dev/null; exit 1
            """
        var announced = false
        while true {
            let heldOutput: String?
            if let runnerSite {
                heldOutput = try runnerSite.runner().takeLock(path: path, record: String(decoding: record, as: UTF8.self))
            } else {
                let result = try session.capture(script, stdin: record, timeout: commandTimeout)
                let output = String(decoding: result.stdout, as: UTF8.self)
                if result.exit.succeeded {
                    heldOutput = nil
                } else {
                    guard result.exit.status == 1, output.hasPrefix("held ") else {
                        let message = String(decoding: result.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                        throw StagefixError.configuration("cannot create the fixture lock \(path) on \(host): \(message.isEmpty ? result.exit.description : message)")
                    }
                    heldOutput = output
                }
            }
            guard let heldOutput else {
                trace?("fixture lock \(path) on \(host) acquired\(runnerSite == nil ? "" : " by the Django runner")")
                let lock = HostLock(host: host, path: path, nonce: me.nonce, isInherited: false, session: session, site: runnerSite, timeout: commandTimeout)
                lock.trace = trace
                return lock
            }
            let (age, holder) = parseHeld(heldOutput)
            if let holder, inherited[host] == holder.nonce {
                trace?("fixture lock on \(host) is held by the stagefix that started this one")
                return HostLock(host: host, path: path, nonce: holder.nonce, isInherited: true, session: session, site: nil, timeout: commandTimeout)
            }
            if let why = LockStaleness.reason(holder: holder, age: age, localMachine: localMachine, isAlive: isProcessAlive) {
                StandardStreams.printError("stagefix: breaking the stale fixture lock on \(host): \(why)")
                try breakStale(path: path, holderNonce: holder?.nonce, session: session, timeout: commandTimeout)
                continue
            }
            let who = holder?.description ?? "an owner still writing the lock file"
            if Date() >= deadline {
                throw StagefixError.timedOut("waited \(formatSeconds(waitSeconds)) for the fixture lock on \(host); it is held by \(who) (raise --lock-timeout, or remove \(path) on the server if that run is gone)")
            }
            if !announced {
                StandardStreams.printError("stagefix: waiting up to \(formatSeconds(waitSeconds)) for the fixture lock on \(host), held by \(who)")
                announced = true
            }
            Thread.sleep(forTimeInterval: min(0.5, max(0.05, deadline.timeIntervalSinceNow)))
        }
    }

    /// Keeps the lease fresh; cheap to call often (it only talks to the server every few seconds).
    public func heartbeatIfDue() {
        guard !isInherited, !released, Date().timeIntervalSince(lastHeartbeat) >= Self.heartbeatInterval else { return }
        lastHeartbeat = Date()
        let script = "grep -qF \(ShellQuoting.quote(nonce)) \(ShellQuoting.quote(path)) && touch \(ShellQuoting.quote(path))"
        do {
            let result = try session.capture(script, timeout: timeout)
            if !result.exit.succeeded {
                StandardStreams.printError("stagefix: warning: the fixture lock on \(host) is no longer ours (someone removed or broke it)")
            }
        } catch {
            StandardStreams.printError("stagefix: warning: fixture lock heartbeat on \(host) failed: \(error)")
        }
    }

    /// Removes the lock if it is still ours. Inherited locks are left to their owner.
    public func release() {
        guard !isInherited, !released else { return }
        released = true
        let watch = Stopwatch()
        // Through the runner while one is running (one round trip); else, or if it fails, a shell.
        if let site, site.isRunnerAlive, (try? site.runner().releaseLock(path: path, nonce: nonce)) != nil {
            trace?("fixture lock on \(host) released by the Django runner (\(String(format: "%.1f", watch.milliseconds)) ms)")
            return
        }
        let script = "grep -qF \(ShellQuoting.quote(nonce)) \(ShellQuoting.quote(path)) && rm -f \(ShellQuoting.quote(path))"
        _ = try? session.capture(script, timeout: min(timeout, 10))
        trace?("fixture lock on \(host) released (\(String(format: "%.1f", watch.milliseconds)) ms)")
    }

    /// `KEY=value` for the commands `stagefix lock` runs, so a nested stagefix knows the lock is its parent's.
    public func tokenEnvironment(_ environment: [String: String]) -> String {
        var tokens = Self.inheritedTokens(environment)
        tokens[host] = nonce
        return tokens.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    static func inheritedTokens(_ environment: [String: String]) -> [String: String] {
        var tokens: [String: String] = [:]
        for pair in (environment[tokensVariable] ?? "").split(separator: ",") {
            guard let equals = pair.lastIndex(of: "=") else { continue }
            tokens[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return tokens
    }

    /// `held NOW MTIME` then the lock file's text.
    static func parseHeld(_ output: String) -> (age: Int, holder: LockOwner?) {
        let lines = output.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let fields = lines[0].split(separator: " ")
        let now = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
        let modified = fields.count > 2 ? Int(fields[2]) ?? 0 : 0
        let holder = lines.count > 1 ? try? JSONDecoder().decode(LockOwner.self, from: Data(lines[1].utf8)) : nil
        return (max(0, now - modified), holder)
    }

    /// Moves the stale lock aside and deletes it only if it is still the one judged stale; a fresh
    /// lock taken meanwhile is put back (never over a newer one).
    private static func breakStale(path: String, holderNonce: String?, session: SSHSession, timeout: Double) throws {
        let aside = path + ".broken-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let same = holderNonce.map { "grep -qF \(ShellQuoting.quote($0)) \"$b\"" } ?? "! grep -q nonce \"$b\""
        let script = """
            l=\(ShellQuoting.quote(path)); b=\(ShellQuoting.quote(aside))
            mv "$l" "$b" 2>/dev/null || exit 0
            if \(same); then rm -f "$b"; else mv -n "$b" "$l"; rm -f "$b"; fi
            """
        _ = try session.capture(script, timeout: timeout)
    }

    static let localMachine: String = {
        var buffer = [UInt8](repeating: 0, count: 256)
        buffer.withUnsafeMutableBufferPointer { _ = gethostname(UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count - 1) }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }()

    /// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
    static func processStartTime(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    static func isProcessAlive(_ pid: Int32, _ start: String?) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let start, let current = processStartTime(pid) else { return true }
        return current == start
    }
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
}
