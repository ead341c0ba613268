// OpenSSH client config: Host/Match blocks, Include, first value wins; what we cannot honour is an error.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum StrictHostKeyChecking: String, Sendable {
    case yes, ask, acceptNew = "accept-new", no
}

/// Everything stagefix needs to connect to one host, as `ssh -G` would resolve it.
public struct ResolvedSSHHost: Sendable, Equatable {
    public var hostName: String
    public var user: String
    public var port: Int = 22
    public var identityFiles: [String] = []
    /// True when no IdentityFile applied and OpenSSH's default `~/.ssh/id_*` list is used.
    public var identityFilesAreDefaults = false
    public var identitiesOnly = false
    /// nil: `$SSH_AUTH_SOCK`; `none`: no agent.
    public var identityAgent: String?
    public var userKnownHostsFiles: [String] = []
    public var globalKnownHostsFiles: [String] = []
    public var strictHostKeyChecking: StrictHostKeyChecking = .ask
    public var hashKnownHosts = false
    public var connectTimeout: Int?
    public var serverAliveInterval: Int?
    public var hostKeyAlias: String?
    public var addressFamily: AddressFamily = .any
    /// ProxyJump or ProxyCommand, whichever came first (OpenSSH ignores the other).
    public var proxy: ProxySetting = .direct
}

extension KnownHostsPolicy.Strictness {
    public init(_ setting: StrictHostKeyChecking) {
        switch setting {
        case .yes, .ask: self = .strict
        case .acceptNew: self = .acceptNew
        case .no: self = .off
        }
    }
}

/// One `Keyword value` line with where it came from, and the block condition it sits under.
struct SSHConfigLine {
    var keyword: String
    var arguments: [String]
    /// Everything after the keyword, quotes kept: ProxyCommand hands it to the shell as written.
    var rawValue: String
    var location: FileLocation
}

public struct SSHConfig: Sendable {
    /// Lines in reading order, Include already expanded, each with its block's condition.
    fileprivate var lines: [(condition: Condition, line: SSHConfigLineBox)] = []
    /// Every file read, Includes too, in reading order: what a cached resolution depends on.
    public private(set) var files: [String] = []

    fileprivate enum Condition: Sendable {
        case always
        case host([String])
        case match([(kind: String, patterns: [String])], FileLocation)
    }

    /// The names `Host` lines spell out literally (no `*`, `?` or `!`): hosts the user reaches by
    /// name, which the guard can recognise as production by their names.
    public var literalHostNames: [String] {
        var names: [String] = []
        for (condition, _) in lines {
            guard case .host(let patterns) = condition else { continue }
            for pattern in patterns where !pattern.contains(where: { "*?!".contains($0) }) && !names.contains(pattern) {
                names.append(pattern)
            }
        }
        return names
    }

    /// `-F FILE` alone, as ssh does; else `~/.ssh/config` (if present), then `/etc/ssh/ssh_config`.
    public static func load(explicitPath: String?, homeDirectory: String) throws -> SSHConfig {
        var config = SSHConfig()
        if let explicitPath {
            guard FileManager.default.fileExists(atPath: explicitPath) else {
                throw SSHError.configuration(message: "ssh config file \(explicitPath) does not exist (given with -F)", at: nil)
            }
            try config.read(path: explicitPath, base: homeDirectory + "/.ssh", condition: .always, depth: 0)
            return config
        }
        let user = homeDirectory + "/.ssh/config"
        if FileManager.default.fileExists(atPath: user) {
            try config.read(path: user, base: homeDirectory + "/.ssh", condition: .always, depth: 0)
        }
        if FileManager.default.fileExists(atPath: "/etc/ssh/ssh_config") {
            try config.read(path: "/etc/ssh/ssh_config", base: "/etc/ssh", condition: .always, depth: 0)
        }
        return config
    }

    public static func parse(_ text: String, path: String, homeDirectory: String) throws -> SSHConfig {
        var config = SSHConfig()
        try config.read(text: text, path: path, base: homeDirectory + "/.ssh", condition: .always, depth: 0)
        return config
    }

    private mutating func read(path: String, base: String, condition: Condition, depth: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SSHError.configuration(message: "cannot read ssh config file \(path)", at: nil)
        }
        files.append(path)
        try read(text: text, path: path, base: base, condition: condition, depth: depth)
    }

    private mutating func read(text: String, path: String, base: String, condition outer: Condition, depth: Int) throws {
        guard depth < 16 else { throw SSHError.configuration(message: "Include nested too deeply (a cycle?) in \(path)", at: nil) }
        var condition = outer
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let location = FileLocation(path: path, line: index + 1)
            guard let (keyword, arguments) = try Self.split(String(raw), at: location) else { continue }
            let rawValue = Self.rawValue(of: String(raw))
            switch keyword {
            case "host":
                condition = .host(arguments)
            case "match":
                condition = try Self.matchCondition(arguments, at: location)
            case "include":
                for argument in arguments {
                    let pattern = argument.hasPrefix("/") ? argument : (argument.hasPrefix("~/") ? NSHomeDirectory() + argument.dropFirst(1) : base + "/" + argument)
                    for file in Self.glob(pattern) {
                        try read(path: file, base: base, condition: condition, depth: depth + 1)
                    }
                }
            default:
                lines.append((condition, SSHConfigLineBox(SSHConfigLine(keyword: keyword, arguments: arguments, rawValue: rawValue, location: location))))
            }
        }
    }

    /// Splits a line into its lowercased keyword and arguments (`Key value`, `Key=value`, quotes).
    static func split(_ raw: String, at location: FileLocation) throws -> (String, [String])? {
        let line = raw.trimmingWhitespaceAndNewlines()
        if line.isEmpty || line.hasPrefix("#") { return nil }
        var words: [String] = []
        var current = ""
        var inQuotes = false
        var hasWord = false
        var seenEquals = false
        for character in line {
            if character == "\"" { inQuotes.toggle(); hasWord = true; continue }
            // One `=` may separate the keyword from its value, with or without spaces around it.
            let isKeywordEquals = character == "=" && !seenEquals && (words.isEmpty || (words.count == 1 && !hasWord))
            if isKeywordEquals { seenEquals = true }
            if !inQuotes && (character == " " || character == "\t" || isKeywordEquals) {
                if hasWord { words.append(current); current = ""; hasWord = false }
                continue
            }
            current.append(character)
            hasWord = true
        }
        if inQuotes { throw SSHError.configuration(message: "unterminated quote", at: location) }
        if hasWord { words.append(current) }
        guard let keyword = words.first else { return nil }
        return (keyword.lowercased(), Array(words.dropFirst()))
    }

    /// The text after the keyword and its separator (spaces, tabs, one `=`), as OpenSSH keeps it for
    /// ProxyCommand: not split into words, quotes left for the shell.
    static func rawValue(of raw: String) -> String {
        let line = raw.trimmingWhitespaceAndNewlines()
        guard let end = line.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "=" }) else { return "" }
        return String(line[end...].drop(while: { $0 == " " || $0 == "\t" || $0 == "=" }))
    }

    private static func matchCondition(_ arguments: [String], at location: FileLocation) throws -> Condition {
        var criteria: [(String, [String])] = []
        var index = 0
        while index < arguments.count {
            let kind = arguments[index].lowercased()
            switch kind {
            case "all":
                criteria.append(("all", []))
                index += 1
            case "host", "originalhost", "user", "localuser":
                guard index + 1 < arguments.count else { throw SSHError.configuration(message: "Match \(kind) needs patterns", at: location) }
                criteria.append((kind, arguments[index + 1].split(separator: ",").map(String.init)))
                index += 2
            default:
                throw SSHError.configuration(message: "Match \(arguments[index]) is not supported by stagefix (it cannot evaluate it, so it cannot tell whether the block applies); remove it or use -F with a config without it", at: location)
            }
        }
        return .match(criteria, location)
    }

    private static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }
    }

    static func patternListMatches(_ patterns: [String], _ name: String) -> Bool {
        var matched = false
        for pattern in patterns {
            for single in pattern.split(separator: ",").map(String.init) {
                // As OpenSSH: the pattern is lowercased, the name is matched as typed.
                if single.hasPrefix("!") {
                    if GlobPattern.matches(String(single.dropFirst()), name, exactCase: true) { return false }
                } else if GlobPattern.matches(single, name, exactCase: true) {
                    matched = true
                }
            }
        }
        return matched
    }

    /// Resolves `host` as ssh does: each keyword takes the first value from a block that applies.
    public func resolve(host: String, localUser: String, homeDirectory: String) throws -> ResolvedSSHHost {
        var seen: [String: SSHConfigLine] = [:]
        var identityFiles: [SSHConfigLine] = []
        var userForMatch = localUser
        var proxy: ProxySetting?
        for (condition, box) in lines {
            let line = box.line
            // As OpenSSH, a malformed ProxyJump is an error even in a block that does not apply.
            let jumps = line.keyword == "proxyjump" ? try Self.jumpHosts(line) : nil
            let applies: Bool
            switch condition {
            case .always: applies = true
            case let .host(patterns): applies = Self.patternListMatches(patterns, host)
            case let .match(criteria, _):
                applies = criteria.allSatisfy { kind, patterns in
                    switch kind {
                    case "all": return true
                    case "host", "originalhost": return Self.patternListMatches(patterns, host)
                    case "user": return Self.patternListMatches(patterns, userForMatch)
                    default: return Self.patternListMatches(patterns, localUser)
                    }
                }
            }
            guard applies else { continue }
            switch line.keyword {
            case "proxyjump":
                // The first of ProxyJump and ProxyCommand wins, `none` included (OpenSSH's readconf).
                if proxy == nil { proxy = jumps.map(ProxySetting.jump) ?? .direct }
            case "proxycommand":
                guard !line.rawValue.isEmpty else { throw SSHError.configuration(message: "ProxyCommand needs a command (or none)", at: line.location) }
                // `none` compared as ssh.c does, case-sensitively.
                if proxy == nil { proxy = line.rawValue == "none" ? .direct : .command(line.rawValue) }
            case "remotecommand", "localforward", "remoteforward", "dynamicforward", "certificatefile":
                if line.arguments.first?.lowercased() != "none" {
                    throw SSHError.configuration(message: "\(line.keyword) is not supported by stagefix (it changes where or how the connection is made); remove it for this host or use -F with a config without it", at: line.location)
                }
            case "canonicalizehostname":
                if ["yes", "always"].contains(line.arguments.first?.lowercased() ?? "") {
                    throw SSHError.configuration(message: "CanonicalizeHostname is not supported by stagefix; remove it for this host", at: line.location)
                }
            case "identityfile":
                identityFiles.append(line)
            default:
                if seen[line.keyword] == nil {
                    seen[line.keyword] = line
                    if line.keyword == "user", let value = line.arguments.first { userForMatch = value }
                }
            }
        }

        func value(_ keyword: String) -> String? { seen[keyword]?.arguments.first }
        func number(_ keyword: String) throws -> Int? {
            guard let line = seen[keyword], let text = line.arguments.first else { return nil }
            guard let number = Int(text), number >= 0 else {
                throw SSHError.configuration(message: "\(keyword) needs a number, got '\(text)'", at: line.location)
            }
            return number
        }

        var resolved = ResolvedSSHHost(hostName: host.lowercased(), user: value("user") ?? localUser)
        resolved.proxy = proxy ?? .direct
        let expand = { (text: String, hostName: String, user: String, port: Int) -> String in
            var result = text.hasPrefix("~/") ? homeDirectory + text.dropFirst(1) : text
            for (token, replacement) in [("%%", "\u{0}"), ("%h", hostName), ("%d", homeDirectory), ("%u", localUser), ("%r", user), ("%p", String(port)), ("%n", host)] {
                result = result.replacingEvery(token, with: replacement)
            }
            // The local host name only when asked for (it is a system call each time).
            if result.containsBytes("%l") { result = result.replacingEvery("%l", with: ProcessInfo.processInfo.hostName) }
            return result.replacingEvery("\u{0}", with: "%")
        }
        if let hostName = value("hostname") { resolved.hostName = expand(hostName, host, resolved.user, 22) }
        if let port = try number("port") {
            guard (1...65535).contains(port) else { throw SSHError.configuration(message: "Port \(port) is out of range", at: seen["port"]?.location) }
            resolved.port = port
        }
        let identityValues = identityFiles.flatMap(\.arguments).filter { $0.lowercased() != "none" }
        if identityFiles.isEmpty {
            resolved.identityFilesAreDefaults = true
            resolved.identityFiles = ["id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"].map { homeDirectory + "/.ssh/" + $0 }
        } else {
            resolved.identityFiles = identityValues.map { expand($0, resolved.hostName, resolved.user, resolved.port) }
        }
        resolved.identitiesOnly = value("identitiesonly")?.lowercased() == "yes"
        if let agent = value("identityagent") {
            resolved.identityAgent = agent.lowercased() == "none" ? "none" : (agent == "SSH_AUTH_SOCK" ? nil : expand(agent, resolved.hostName, resolved.user, resolved.port))
        }
        let knownHostsExpand = { (files: [String]) in files.map { expand($0, resolved.hostName, resolved.user, resolved.port) } }
        resolved.userKnownHostsFiles = knownHostsExpand(seen["userknownhostsfile"]?.arguments ?? ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"])
        resolved.globalKnownHostsFiles = knownHostsExpand(seen["globalknownhostsfile"]?.arguments ?? ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"])
        if let strict = seen["stricthostkeychecking"] {
            switch strict.arguments.first?.lowercased() ?? "" {
            case "yes": resolved.strictHostKeyChecking = .yes
            case "ask": resolved.strictHostKeyChecking = .ask
            case "accept-new": resolved.strictHostKeyChecking = .acceptNew
            case "no", "off": resolved.strictHostKeyChecking = .no
            case let other: throw SSHError.configuration(message: "StrictHostKeyChecking '\(other)' is not yes, ask, accept-new or no", at: strict.location)
            }
        }
        resolved.hashKnownHosts = value("hashknownhosts")?.lowercased() == "yes"
        resolved.connectTimeout = try number("connecttimeout")
        resolved.serverAliveInterval = try number("serveraliveinterval")
        resolved.hostKeyAlias = value("hostkeyalias")
        switch value("addressfamily")?.lowercased() {
        case "inet": resolved.addressFamily = .inet
        case "inet6": resolved.addressFamily = .inet6
        default: resolved.addressFamily = .any
        }
        return resolved
    }
}

extension SSHConfig {
    /// The hosts of a ProxyJump line, first hop first; nil for `none`.
    fileprivate static func jumpHosts(_ line: SSHConfigLine) throws -> [JumpHost]? {
        let value = line.rawValue.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?.trimmingWhitespaceAndNewlines() ?? ""
        if value.lowercased() == "none" { return nil }
        guard !value.isEmpty else { throw SSHError.configuration(message: "ProxyJump needs a host (or none)", at: line.location) }
        return try value.split(separator: ",", omittingEmptySubsequences: false).map { element in
            do {
                return try JumpHost(parsing: String(element))
            } catch {
                throw SSHError.configuration(message: "ProxyJump: \(error)", at: line.location)
            }
        }
    }

    /// The jump host right before the target, resolved as OpenSSH's `ssh -l USER -p PORT -J EARLIER HOST`
    /// does: its own ssh_config entry (HostName, keys, known_hosts...), the user and port written in the
    /// jump on top, and the earlier jumps instead of its own ProxyJump/ProxyCommand (its own when none).
    public func resolveJumpHost(_ chain: [JumpHost], localUser: String, homeDirectory: String) throws -> ResolvedSSHHost {
        guard let last = chain.last else { throw SSHError.configuration(message: "ProxyJump names no host", at: nil) }
        var resolved = try resolve(host: last.host, localUser: localUser, homeDirectory: homeDirectory)
        if let user = last.user { resolved.user = user }
        if let port = last.port { resolved.port = port }
        if chain.count > 1 { resolved.proxy = .jump(Array(chain.dropLast())) }
        return resolved
    }
}

/// Lets config lines sit in a Sendable struct (they are immutable once read).
final class SSHConfigLineBox: Sendable {
    let line: SSHConfigLine
    init(_ line: SSHConfigLine) { self.line = line }
}

extension SSHConfigLine: @unchecked Sendable {}
