// AUTH PLAIN and AUTH LOGIN (RFC 4954, 4616): a capture server takes any credentials, but the 334 exchange follows the protocol.
import Foundation

/// Where an AUTH exchange stands while the server waits for the client's next base64 line.
enum AuthExchange: Equatable, Sendable {
    case awaitingPlainResponse
    case awaitingLoginUsername
    case awaitingLoginPassword

    enum Step: Equatable, Sendable {
        /// Send the reply (a 334 challenge) and wait in the given state.
        case challenge(AuthExchange, SMTPReply)
        /// The exchange is over; `succeeded` when the reply is 235.
        case finished(SMTPReply, succeeded: Bool)
    }

    static let mechanisms = ["PLAIN", "LOGIN"]

    /// RFC 4954 4: "334 " with an empty challenge; for LOGIN the de-facto "Username:" and "Password:" prompts, base64-encoded.
    private static let emptyChallenge = SMTPReply(334, "")
    private static let usernamePrompt = SMTPReply(334, "VXNlcm5hbWU6")
    private static let passwordPrompt = SMTPReply(334, "UGFzc3dvcmQ6")
    private static let accepted = SMTPReply(235, "2.7.0 Authentication successful")
    private static let cancelled = SMTPReply(501, "5.0.0 Authentication cancelled")
    private static let undecodable = SMTPReply(501, "5.5.2 Cannot decode the response (base64 expected)")
    private static let malformedPlain = SMTPReply(501, "5.5.2 Malformed PLAIN response (authzid NUL authcid NUL password expected)")

    static func begin(mechanism: String, initialResponse: String?) -> Step {
        switch mechanism {
        case "PLAIN":
            guard let initialResponse else { return .challenge(.awaitingPlainResponse, emptyChallenge) }
            return checkPlain(initialResponse)
        case "LOGIN":
            guard let initialResponse else { return .challenge(.awaitingLoginUsername, usernamePrompt) }
            guard decode(initialResponse) != nil else { return .finished(undecodable, succeeded: false) }
            return .challenge(.awaitingLoginPassword, passwordPrompt)
        default:
            return .finished(SMTPReply(504, "5.5.4 Unrecognized authentication type (PLAIN and LOGIN are offered)"), succeeded: false)
        }
    }

    func respond(_ line: String) -> Step {
        // RFC 4954 4: a lone "*" cancels the exchange.
        if line == "*" {
            return .finished(Self.cancelled, succeeded: false)
        }
        switch self {
        case .awaitingPlainResponse:
            return Self.checkPlain(line)
        case .awaitingLoginUsername:
            guard Self.decode(line) != nil else { return .finished(Self.undecodable, succeeded: false) }
            return .challenge(.awaitingLoginPassword, Self.passwordPrompt)
        case .awaitingLoginPassword:
            guard Self.decode(line) != nil else { return .finished(Self.undecodable, succeeded: false) }
            return .finished(Self.accepted, succeeded: true)
        }
    }

    private static func checkPlain(_ response: String) -> Step {
        guard let credentials = decode(response) else { return .finished(undecodable, succeeded: false) }
        guard credentials.filter({ $0 == 0 }).count == 2 else { return .finished(malformedPlain, succeeded: false) }
        return .finished(accepted, succeeded: true)
    }

    /// RFC 4954 4: "=" stands for an empty initial response.
    private static func decode(_ text: String) -> Data? {
        text == "=" ? Data() : Data(base64Encoded: text)
    }
}
