// Turns a HOST argument into an authenticated SSH session: ssh_config, known_hosts, keys, agent.
import Foundation
import SSH

public enum HostConnector {
    /// The connection plan for a destination: everything resolved, nothing opened yet.
    public static func plan(_ request: ConnectionRequest, sshConfig loaded: SSHConfig? = nil, extraHostKeyPolicies: [any HostKeyPolicy] = []) throws -> (resolved: ResolvedSSHHost, options: ConnectionOptions) {
        let destination: Destination
        do {
            destination = try Destination(parsing: request.destination)
        } catch let error as DestinationError {
            throw StagefixError.usage(error.description)
        }
        let environment = ProcessInfo.processInfo.environment
        let (localUser, home) = localUserAndHome
        let config = try loaded ?? SSHConfig.load(explicitPath: request.sshConfigPath, homeDirectory: home)
        var resolved = try config.resolve(host: destination.host, localUser: localUser, homeDirectory: home)
        if let user = destination.user { resolved.user = user }
        if let port = destination.port { resolved.port = port }

        var options = try options(for: resolved, request: request, hostKeyPolicies: extraHostKeyPolicies)
        options.route = try route(for: resolved, originalHost: destination.host, request: request, config: config, hops: 0)
        request.trace?("\(request.destination): \(resolved.user)@\(resolved.hostName):\(resolved.port), known hosts \(resolved.userKnownHostsFiles.joined(separator: " ")), \(options.authentication.count) auth method(s)\(routeDescription(options.route))")
        return (resolved, options)
    }

    /// How ssh would reach the host: ProxyCommand with its tokens expanded, or the jump host before it
    /// with everything of its own (keys, known_hosts, and how *it* is reached, recursively).
    static func route(for resolved: ResolvedSSHHost, originalHost: String, request: ConnectionRequest, config: SSHConfig, hops: Int) throws -> ConnectionRoute {
        switch resolved.proxy {
        case .direct:
            return .direct
        case .command(let template):
            return .proxyCommand(template, host: resolved.hostName, port: resolved.port, user: resolved.user, originalHost: originalHost)
        case .jump(let chain):
            // OpenSSH stops a jump host that jumps to itself; a bound also stops longer cycles.
            guard hops < maximumJumps else {
                throw SSHError.configuration(message: "ProxyJump for \(originalHost) goes through more than \(maximumJumps) jump hosts; a jump host's own ProxyJump probably leads back (a loop)", at: nil)
            }
            let (localUser, home) = localUserAndHome
            let jump = try config.resolveJumpHost(chain, localUser: localUser, homeDirectory: home)
            // The jump host is only passed through, never judged: known_hosts alone checks its key.
            var options = try options(for: jump, request: request, hostKeyPolicies: [])
            options.route = try route(for: jump, originalHost: chain.last?.host ?? jump.hostName, request: request, config: config, hops: hops + 1)
            return .jump(through: options)
        }
    }

    static let maximumJumps = 8

    /// ` via a:22, then b:2222` for jumps (first hop first), ` via ProxyCommand` for a command.
    static func routeDescription(_ route: ConnectionRoute) -> String {
        var hops: [String] = []
        var next = route
        while case .jump(let through) = next {
            hops.insert("\(through.user)@\(through.host):\(through.port)", at: 0)
            next = through.route
        }
        if case .command = next { hops.insert("ProxyCommand", at: 0) }
        return hops.isEmpty ? "" : " via " + hops.joined(separator: ", then ")
    }

    /// Keys, agent, known_hosts and timeouts for one host, as its ssh_config entry says.
    private static func options(for resolved: ResolvedSSHHost, request: ConnectionRequest, hostKeyPolicies extraHostKeyPolicies: [any HostKeyPolicy]) throws -> ConnectionOptions {
        let environment = ProcessInfo.processInfo.environment
        let knownHosts = KnownHostsPolicy(
            strictness: KnownHostsPolicy.Strictness(resolved.strictHostKeyChecking),
            userFiles: resolved.userKnownHostsFiles, globalFiles: resolved.globalKnownHostsFiles,
            hashNewEntries: resolved.hashKnownHosts, trace: request.trace)
        let policy: any HostKeyPolicy = extraHostKeyPolicies.isEmpty ? knownHosts : AllOfHostKeyPolicies([knownHosts] + extraHostKeyPolicies)

        var methods: [AuthenticationMethod] = []
        let onlyKeys: [[UInt8]]? = resolved.identitiesOnly
            ? resolved.identityFiles.compactMap { PublicKeyFile.blob(forPrivateKey: $0) } : nil
        if resolved.identityAgent != "none" {
            methods.append(.agent(socketPath: resolved.identityAgent, onlyKeys: onlyKeys))
        }
        for file in resolved.identityFiles {
            methods.append(.privateKey(path: file, required: !resolved.identityFilesAreDefaults, passphrase: request.passphrase))
        }
        if let password = environment["STAGEFIX_SSH_PASSWORD"] { methods.append(.password(password)) }

        let timeout = min(request.timeout, resolved.connectTimeout.map(Double.init) ?? request.timeout)
        let options = ConnectionOptions(
            host: resolved.hostName, port: resolved.port, user: resolved.user, addressFamily: resolved.addressFamily,
            hostKeyName: resolved.hostKeyAlias ?? resolved.hostName, timeout: timeout,
            keepaliveInterval: resolved.serverAliveInterval ?? 0, authentication: methods,
            hostKeyPolicy: policy, trace: request.trace)
        return options
    }

    public static func connect(_ request: ConnectionRequest, extraHostKeyPolicies: [any HostKeyPolicy] = []) throws -> SSHSession {
        try SSHSession.connect(plan(request, extraHostKeyPolicies: extraHostKeyPolicies).options)
    }

    /// The local user and home the ssh_config is resolved for.
    static var localUserAndHome: (user: String, home: String) {
        let environment = ProcessInfo.processInfo.environment
        return (environment["USER"] ?? environment["LOGNAME"] ?? LocalAccount.userName(), environment["HOME"] ?? NSHomeDirectory())
    }
}
