// The capture server's typed errors: each description is one line saying what went wrong and what to do.
import NIOCore
import NIOPosix

public enum MailCaptureError: Error, CustomStringConvertible, Equatable, Sendable {
    case addressInUse(host: String, port: Int)
    case addressNotAvailable(host: String, port: Int)
    case permissionDenied(host: String, port: Int)
    case unknownHost(host: String, port: Int)
    case cannotListen(host: String, port: Int, reason: String)
    case invalidListenAddress(String)
    case invalidConfiguration(String)
    case maildirUnusable(path: String, reason: String)
    case deliveryFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .addressInUse(let host, let port):
            "cannot listen on \(Self.endpoint(host, port)): address already in use; pick another --listen port or 0 for any free one"
        case .addressNotAvailable(let host, let port):
            "cannot listen on \(Self.endpoint(host, port)): that address is not on this machine; listen on 127.0.0.1 or another local address"
        case .permissionDenied(let host, let port):
            "cannot listen on \(Self.endpoint(host, port)): permission denied; pick a port of 1024 or above, or 0 for any free one"
        case .unknownHost(let host, let port):
            "cannot listen on \(Self.endpoint(host, port)): no such host; give an IP address such as 127.0.0.1 or [::1]"
        case .cannotListen(let host, let port, let reason):
            "cannot listen on \(Self.endpoint(host, port)): \(reason); check the --listen address"
        case .invalidListenAddress(let text):
            "invalid listen address '\(text)': expected PORT, HOST:PORT or [IPv6]:PORT with a port from 0 to 65535, e.g. 127.0.0.1:2525"
        case .invalidConfiguration(let problem):
            "invalid capture server configuration: \(problem)"
        case .maildirUnusable(let path, let reason):
            "cannot use the Maildir \(path): \(reason); give a folder you can write to"
        case .deliveryFailed(let path, let reason):
            "cannot store a message in the Maildir \(path): \(reason); check free space and permissions"
        }
    }

    /// `127.0.0.1:2525`, `[::1]:2525`: brackets keep an IPv6 address apart from its port.
    static func endpoint(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Turns whatever binding threw into the case a person can act on.
    static func listenFailure(host: String, port: Int, _ error: any Error) -> MailCaptureError {
        if let error = error as? IOError {
            switch error.errnoCode {
            case EADDRINUSE: return .addressInUse(host: host, port: port)
            case EADDRNOTAVAIL: return .addressNotAvailable(host: host, port: port)
            case EACCES, EPERM: return .permissionDenied(host: host, port: port)
            default: return .cannotListen(host: host, port: port, reason: String(cString: strerror(error.errnoCode)))
            }
        }
        if error is SocketAddressError.UnknownHost {
            return .unknownHost(host: host, port: port)
        }
        return .cannotListen(host: host, port: port, reason: String(describing: error))
    }
}
