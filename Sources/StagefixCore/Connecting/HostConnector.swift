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
        let home = environment["HOME"] ?? NSHomeDirectory()
        let localUser = environment["USER"] ?? environment["LOGNAME"] ?? LocalAccount.userName()
        let config = try loaded ?? SSHConfig.load(explicitPath: request.sshConfigPath, homeDirectory: home)
        var resolved = try config.resolve(host: destination.host, localUser: localUser, homeDirectory: home)
        if let user = destination.user { resolved.user = user }
        if let port = destination.port { resolved.port = port }

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
        request.trace?("\(request.destination): \(resolved.user)@\(resolved.hostName):\(resolved.port), known hosts \(resolved.userKnownHostsFiles.joined(separator: " ")), \(methods.count) auth method(s)")
        return (resolved, options)
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
