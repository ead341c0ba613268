// The host's fixture lock binds every destructive command, not only playbooks: a flush, a reset, an
// env edit or a management command waits while another run holds the lock, and gives up with 75
// naming the holder. A lock held by this run or by the stagefix that started it does not bind.
import Foundation

/// What a destructive request found: the lock file's record and age (seconds since its heartbeat).
public struct LockHeld: Error {
    public var age: Int
    public var holder: LockOwner?

    public init(age: Int, holder: LockOwner?) {
        self.age = age
        self.holder = holder
    }

    /// The runner's `locked` answer: `{"now": N, "mtime": M, "record": TEXT}`.
    init(runnerMessage: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(runnerMessage.utf8))) as? [String: Any] ?? [:]
        let now = object["now"] as? Int ?? 0, mtime = object["mtime"] as? Int ?? 0
        let record = (object["record"] as? String ?? "").split(separator: "\n").first.map(String.init) ?? ""
        self.init(age: max(0, now - mtime), holder: try? JSONDecoder().decode(LockOwner.self, from: Data(record.utf8)))
    }
}

public struct LockGate: Sendable {
    public var host: String
    /// The lock file, relative to the login folder (as the runner and SFTP resolve it).
    public var path: String
    /// Nonces that do not bind: the lock this run holds, and those its parents hold (STAGEFIX_LOCK_TOKENS).
    public var ownNonces: [String]
    public var waitSeconds: Double

    public init(host: String, waitSeconds: Double, heldByThisRun: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.host = host
        path = HostLock.path(for: host)
        let inherited = HostLock.inheritedTokens(environment)
        ownNonces = ([heldByThisRun] + [inherited[host], inherited[host.lowercased()]]).compactMap { $0 }
        self.waitSeconds = waitSeconds
    }

    /// Runs `attempt` with the nonces that do not bind, again while it throws `LockHeld`: a stale
    /// lock (its owner gone, or no heartbeat for its lease) stops binding; a live one is waited for.
    public func waitWhileHeld<T>(trace: (@Sendable (String) -> Void)?, _ attempt: ([String]) throws -> T) throws -> T {
        let started = Date()
        let deadline = started.addingTimeInterval(waitSeconds)
        var nonces = ownNonces
        var announced = false
        while true {
            do {
                return try attempt(nonces)
            } catch let held as LockHeld {
                if let why = LockStaleness.reason(holder: held.holder, age: held.age, localMachine: HostLock.localMachine, isAlive: HostLock.isProcessAlive) {
                    guard let nonce = held.holder?.nonce, !nonces.contains(nonce) else {
                        throw StagefixError.timedOut("the fixture lock \(path) on \(host) is stale (\(why)) but unreadable; remove it on the server")
                    }
                    trace?("the fixture lock on \(host) is stale (\(why)); it no longer binds")
                    nonces.append(nonce)
                    continue
                }
                let who = held.holder?.description ?? "an owner still writing the lock file"
                if Date() >= deadline {
                    throw StagefixError.timedOut("waited \(formatSeconds(Date().timeIntervalSince(started))) for the fixture lock on \(host); it is held by \(who) (raise --lock-timeout, or run inside `stagefix lock`)")
                }
                if !announced {
                    trace?("waiting up to \(formatSeconds(waitSeconds)) for the fixture lock on \(host), held by \(who)")
                    announced = true
                }
                Thread.sleep(forTimeInterval: min(0.25, max(0.02, deadline.timeIntervalSinceNow)))
            }
        }
    }
}
