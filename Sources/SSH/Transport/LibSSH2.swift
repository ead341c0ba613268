// The one place that turns libssh2 return codes into typed errors, and library-wide setup.
import CLibSSH2
import Foundation

enum LibSSH2 {
    /// `libssh2_init` is not thread-safe; a static let runs it exactly once, lazily and safely.
    private static let initialised: Int32 = libssh2_init(0)

    static func ensureInitialised() throws {
        if initialised != 0 {
            throw SSHError.library(function: "libssh2_init", code: initialised, message: "cannot initialise libssh2")
        }
    }

    /// libssh2's own message for the last error on a session.
    static func lastError(_ session: OpaquePointer?) -> (code: Int32, message: String) {
        guard let session else { return (0, "") }
        var messagePointer: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &messagePointer, &length, 0)
        let message = messagePointer.map { String(cString: $0) } ?? ""
        return (code, message)
    }

    /// Maps a libssh2 failure to the error a person can act on.
    static func error(_ code: Int32, function: String, during: String, session: OpaquePointer?) -> SSHError {
        let (_, message) = lastError(session)
        switch code {
        case LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND,
            LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_BANNER_SEND, LIBSSH2_ERROR_CHANNEL_CLOSED,
            LIBSSH2_ERROR_CHANNEL_EOF_SENT:
            return .connectionLost(during: during, reason: message.isEmpty ? "the server closed the connection" : message)
        case LIBSSH2_ERROR_KEX_FAILURE:
            return .connectionLost(
                during: during,
                reason: "no common key-exchange or host-key algorithm (\(message)); libssh2 1.10 cannot use rsa-sha2 host keys, give the server an ed25519 host key")
        default:
            return .library(function: function, code: code, message: message)
        }
    }
}
