// Tries each authentication method the server allows, in order, and explains every failure.
import CLibSSH2
import Foundation

struct Authenticator {
    let session: SSHSession
    let waiter: SocketWaiter
    let deadline: Deadline

    private var handle: OpaquePointer { session.handle }
    private var user: String { session.options.user }
    private var during: String { "authentication as \(user) on \(session.options.host)" }

    func authenticate() throws {
        var attempts: [AuthenticationAttempt] = []
        var rejectedRSA = false
        // The server's method list costs a round trip (a "none" request), so it is asked only when a
        // decision needs it: public keys are simply tried. Never asked after success: that hangs
        // sshd (LIBSSH2-NOTES §3); a failed attempt leaves the list safe to ask.
        var allowed: Set<String>? = nil
        func allowedMethods() throws -> Set<String> {
            if let allowed { return allowed }
            let asked = try askAllowedMethods()
            allowed = asked
            return asked
        }

        for method in session.options.authentication {
            switch method {
            case let .agent(socketPath, onlyKeys):
                if let allowed, !allowed.contains("publickey") { continue }
                if try authenticateWithAgent(socketPath: socketPath, onlyKeys: onlyKeys, attempts: &attempts, rejectedRSA: &rejectedRSA) {
                    return
                }
            case let .privateKey(path, required, passphrase):
                if let allowed, !allowed.contains("publickey") {
                    attempts.append(AuthenticationAttempt(method: "publickey", detail: path, outcome: "the server does not accept public keys"))
                    continue
                }
                if try authenticateWithKey(path: path, required: required, passphrase: passphrase, attempts: &attempts, rejectedRSA: &rejectedRSA) {
                    return
                }
            case let .password(password):
                let methods = try allowedMethods()
                if libssh2_userauth_authenticated(handle) != 0 { return }
                guard methods.contains("password") else {
                    attempts.append(AuthenticationAttempt(method: "password", outcome: "the server does not accept passwords"))
                    continue
                }
                let rc = try call("libssh2_userauth_password_ex") {
                    libssh2_userauth_password_ex(handle, user, UInt32(user.utf8.count), password, UInt32(password.utf8.count), nil)
                }
                if rc == 0 { return }
                attempts.append(AuthenticationAttempt(method: "password", outcome: "rejected"))
            }
        }
        // Everything failed (or nothing was tried): the list explains why, and a server that takes
        // "none" lets us in through asking it.
        let methods = try allowedMethods()
        if libssh2_userauth_authenticated(handle) != 0 { return }
        if attempts.isEmpty {
            attempts.append(AuthenticationAttempt(method: "none", outcome: "no key, agent or password was available; the server allows \(methods.sorted().joined(separator: ","))"))
        } else if !methods.contains("publickey") {
            attempts.append(AuthenticationAttempt(method: "publickey", outcome: "the server does not accept public keys (it allows \(methods.sorted().joined(separator: ",")))"))
        }
        let hint = rejectedRSA
            ? "libssh2 1.10 signs RSA keys only with SHA-1 (ssh-rsa), which OpenSSH 8.8 and later refuse by default: use an ed25519 key (ssh-keygen -t ed25519) and add it to the server's authorized_keys"
            : nil
        throw SSHError.authenticationFailed(user: user, host: session.options.host, attempts: attempts, hint: hint)
    }

    private func askAllowedMethods() throws -> Set<String> {
        while true {
            if let list = libssh2_userauth_list(handle, user, UInt32(user.utf8.count)) {
                return Set(String(cString: list).split(separator: ",").map(String.init))
            }
            if libssh2_userauth_authenticated(handle) != 0 { return [] }
            let rc = libssh2_session_last_errno(handle)
            guard rc == LIBSSH2_ERROR_EAGAIN else {
                throw LibSSH2.error(rc, function: "libssh2_userauth_list", during: during, session: handle)
            }
            try waiter.wait(deadline: deadline, during: during)
        }
    }

    /// Runs an auth call to completion; returns its final code. Connection loss and timeouts throw.
    private func call(_ function: String, _ body: () -> Int32) throws -> Int32 {
        while true {
            let rc = body()
            if rc != LIBSSH2_ERROR_EAGAIN {
                if rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND {
                    throw LibSSH2.error(rc, function: function, during: during, session: handle)
                }
                return rc
            }
            try waiter.wait(deadline: deadline, during: during)
        }
    }

    private func authenticateWithKey(
        path: String, required: Bool, passphrase: PassphraseProvider,
        attempts: inout [AuthenticationAttempt], rejectedRSA: inout Bool
    ) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { attempts.append(AuthenticationAttempt(method: "publickey", detail: path, outcome: "no such file")) }
            return false
        }
        guard let info = PrivateKeyFileInfo.inspect(path: path) else {
            attempts.append(AuthenticationAttempt(method: "publickey", detail: path, outcome: "cannot read the file"))
            return false
        }
        var secret: String? = nil
        if info.isEncrypted {
            secret = passphrase(path)
            if secret == nil {
                attempts.append(AuthenticationAttempt(method: "publickey", detail: path, outcome: "encrypted and no passphrase given (set STAGEFIX_KEY_PASSPHRASE)"))
                return false
            }
        }
        // Passing the .pub path saves a second decryption of an encrypted key (LIBSSH2-NOTES §3).
        let publicPath = FileManager.default.fileExists(atPath: path + ".pub") ? path + ".pub" : nil
        let rc = try call("libssh2_userauth_publickey_fromfile_ex") {
            libssh2_userauth_publickey_fromfile_ex(handle, user, UInt32(user.utf8.count), publicPath, path, secret)
        }
        if rc == 0 {
            session.options.trace?("authenticated with key \(path)")
            return true
        }
        let isRSA = info.algorithm == "ssh-rsa"
        let outcome: String
        switch rc {
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
            if isRSA {
                rejectedRSA = true
                outcome = "RSA key refused (the server may reject SHA-1 ssh-rsa signatures)"
            } else {
                outcome = "refused by the server (not in its authorized_keys?)"
            }
        case LIBSSH2_ERROR_FILE:
            outcome = info.isEncrypted
                ? "cannot decrypt: wrong passphrase, or a cipher libssh2 1.10 lacks (aes256-gcm)"
                : "cannot load: \(LibSSH2.lastError(handle).message)"
        case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
            outcome = "the .pub file does not match the private key"
        default:
            outcome = "libssh2 error \(rc): \(LibSSH2.lastError(handle).message)"
        }
        attempts.append(AuthenticationAttempt(method: "publickey", detail: path, outcome: outcome))
        return false
    }

    private func authenticateWithAgent(
        socketPath: String?, onlyKeys: [[UInt8]]?,
        attempts: inout [AuthenticationAttempt], rejectedRSA: inout Bool
    ) throws -> Bool {
        let path = socketPath ?? ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"]
        guard let path, !path.isEmpty else { return false }
        guard let agent = libssh2_agent_init(handle) else { return false }
        defer { libssh2_agent_free(agent) }
        libssh2_agent_set_identity_path(agent, path)
        guard libssh2_agent_connect(agent) == 0 else {
            attempts.append(AuthenticationAttempt(method: "agent", detail: path, outcome: "cannot connect to the agent"))
            return false
        }
        defer { libssh2_agent_disconnect(agent) }
        guard libssh2_agent_list_identities(agent) == 0 else {
            attempts.append(AuthenticationAttempt(method: "agent", detail: path, outcome: "cannot list identities"))
            return false
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        var offered = 0
        while true {
            var identity: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
            let status = libssh2_agent_get_identity(agent, &identity, previous)
            guard status == 0, let identity else { break }
            previous = identity
            let blob = Array(UnsafeBufferPointer(start: identity.pointee.blob, count: identity.pointee.blob_len))
            if let onlyKeys, !onlyKeys.contains(blob) { continue }
            offered += 1
            let comment = identity.pointee.comment.map { String(cString: $0) } ?? "identity \(offered)"
            let rc = try call("libssh2_agent_userauth") { libssh2_agent_userauth(agent, user, identity) }
            if rc == 0 {
                session.options.trace?("authenticated with agent identity \(comment)")
                return true
            }
            let isRSA = HostKey(blob: blob)?.algorithm == "ssh-rsa"
            if isRSA { rejectedRSA = true }
            attempts.append(AuthenticationAttempt(
                method: "agent", detail: comment,
                outcome: isRSA ? "RSA key refused (the server may reject SHA-1 ssh-rsa signatures)" : "refused by the server"))
        }
        if offered == 0 {
            attempts.append(AuthenticationAttempt(method: "agent", detail: path, outcome: onlyKeys == nil ? "holds no identities" : "holds none of the configured keys (IdentitiesOnly)"))
        }
        return false
    }
}
