// Who may stand behind the agent's socket: a folder that is ours alone, and a peer running as us.
// The client trusts an answer only then (another local user could listen first at a predictable
// path), and the agent listens only there.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket's folder: a real folder (not a symbolic link) that belongs to us, with no group or
/// other bits, so that no one else can put anything in it.
enum AgentSocketFolder {
    enum State: Equatable {
        case missing
        case ours
        case untrusted(String)
    }

    static func inspect(_ folder: String) -> State {
        var info = stat()
        guard lstat(folder, &info) == 0 else {
            let code = errno
            return code == ENOENT ? .missing : .untrusted("cannot inspect the agent's folder \(folder): \(String(cString: strerror(code)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK: return .untrusted("the agent's folder \(folder) is a symbolic link")
        default: return .untrusted("the agent's folder \(folder) is not a folder")
        }
        guard info.st_uid == getuid() else {
            return .untrusted("the agent's folder \(folder) belongs to uid \(info.st_uid), not to you (uid \(getuid()))")
        }
        guard info.st_mode & 0o077 == 0 else {
            return .untrusted("the agent's folder \(folder) has mode \(String(info.st_mode & 0o777, radix: 8)), not 700")
        }
        return .ours
    }

    /// Makes the folder when missing, the last component only and mode 0700 (its parent, such as
    /// `$XDG_RUNTIME_DIR`, must exist), then insists that it is ours alone, whoever made it.
    static func prepare(_ folder: String) throws {
        if inspect(folder) == .missing, mkdir(folder, 0o700) != 0 {
            let code = errno
            if code == ENOENT {
                throw StagefixError.configuration("cannot make the agent's folder \(folder): its parent folder does not exist")
            }
            if code != EEXIST {
                throw StagefixError.configuration("cannot make the agent's folder \(folder): \(String(cString: strerror(code)))")
            }
        }
        switch inspect(folder) {
        case .ours: return
        case .missing: throw StagefixError.configuration("the agent's folder \(folder) vanished while it was being made")
        case let .untrusted(reason): throw StagefixError.configuration("\(reason); the agent will not listen there")
        }
    }
}

/// Which user runs the process at the other end of a connected Unix socket, as the kernel says.
enum PeerCredentials {
    static func uid(of descriptor: Int32) -> uid_t? {
        #if os(Linux)
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc hides the type behind _GNU_SOURCE).
        var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials.uid
        #else
        // BSDs and Darwin: the same answer through getpeereid(3).
        var uid = uid_t()
        var gid = gid_t()
        guard getpeereid(descriptor, &uid, &gid) == 0 else { return nil }
        return uid
        #endif
    }
}
