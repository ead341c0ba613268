// Many test workers at once: connections sshd drops at MaxStartups are retried, and all succeed.
import Foundation
import SSH
import Testing

@Suite(.enabled(if: Rig.isAvailable, "needs the rig: run scripts/test"))
struct ParallelWorkerTests {
    private func connectConcurrently(_ rig: Rig, count: Int) -> [Result<RemoteExit, any Error>] {
        let results = ResultBox(count: count)
        let done = DispatchGroup()
        // One thread each, released together: a thread pool would serialise them on 2 cores.
        let start = DispatchSemaphore(value: 0)
        for index in 0..<count {
            done.enter()
            Thread {
                start.wait()
                do {
                    let session = try SSHSession.connect(rig.connectionOptions(timeout: 20))
                    results.set(index, .success(try session.capture("true", timeout: 10).exit))
                    session.disconnect()
                } catch {
                    results.set(index, .failure(error))
                }
                done.leave()
            }.start()
        }
        for _ in 0..<count { start.signal() }
        done.wait()
        return results.values
    }

    @Test func sixteenWorkersAllConnectThroughATightMaxStartups() async throws {
        // Drops every unauthenticated connection beyond 2: the retry path must carry all 16 through.
        let rig = try await Rig.startPrivate(sshdOptions: ["MaxStartups 2:100:2"])
        defer { Task { await rig.stop() } }
        let results = connectConcurrently(rig, count: 16)
        let failures = results.compactMap { result -> String? in
            if case .failure(let error) = result { return "\(error)" }
            return nil
        }
        #expect(failures.isEmpty, "\(failures.count) of 16 failed: \(failures.first ?? "")")
        let log = (try? String(contentsOfFile: rig["RIG_SSHD_LOG"], encoding: .utf8)) ?? ""
        // Proof the drops really happened (else this test would not exercise the retry).
        #expect(log.contains("MaxStartups"), "sshd dropped nothing; the test did not exercise retries")
        await rig.stop()
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<RemoteExit, any Error>?]

    init(count: Int) { storage = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<RemoteExit, any Error>) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }

    var values: [Result<RemoteExit, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return storage.map { $0 ?? .failure(RigFailure(message: "no result")) }
    }
}
