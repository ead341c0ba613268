// Our ssh_config resolution against OpenSSH's own (`ssh -G -F FILE HOST`) on generated configs.
import Foundation
import SSH
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh"), "needs OpenSSH's ssh for ssh -G"))
struct SSHConfigDifferentialTests {
    /// Each config is queried for every host in its list.
    static func corpus(directory: String) -> [(config: String, hosts: [String])] {
        let include = directory + "/inc"
        return [
            ("Host staging\n  HostName 10.0.0.5\n  Port 2222\n  User deploy\n", ["staging", "other", "STAGING"]),
            ("Host *.example.com\n  User web\nHost db?\n  Port 5022\nHost *\n  User fallback\n", ["a.example.com", "db1", "db12", "x", "b.EXAMPLE.com"]),
            ("Host * !prod.example.com\n  Port 2200\nHost prod.example.com\n  Port 22\n", ["prod.example.com", "staging.example.com"]),
            ("Host a\n  Port 1001\nHost a b\n  Port 1002\n  User first\nHost *\n  User second\n", ["a", "b", "c"]),
            ("Match host staging*\n  User matched\nMatch all\n  Port 2345\n", ["staging1", "web"]),
            ("HOST=x\n  HOSTNAME=x.internal\n  port=2022\n  USER = \"quoted user\"\n", ["x", "y", "X"]),
            ("Host k\n  IdentityFile ~/.ssh/one\n  IdentityFile /keys/%r@%h\nHost *\n  IdentityFile /keys/all\n  User u1\n", ["k", "z"]),
            ("Host h\n  HostName %h.staging.example.com\n  IdentityFile /keys/%h-%p\n  Port 2022\n", ["h", "web"]),
            ("Host s1\n  StrictHostKeyChecking accept-new\nHost s2\n  StrictHostKeyChecking no\nHost s3\n  StrictHostKeyChecking yes\n", ["s1", "s2", "s3", "s4"]),
            ("Host kh\n  UserKnownHostsFile /tmp/kh1 /tmp/kh2\n  GlobalKnownHostsFile /tmp/gkh\nHost *\n  UserKnownHostsFile /tmp/never\n", ["kh", "other"]),
            ("Host t\n  ConnectTimeout 9\n  ServerAliveInterval 15\n  HostKeyAlias alias.example.com\n", ["t", "u"]),
            ("Include \(include)/*.conf\nHost *\n  Port 2999\n", ["inc-a", "inc-b", "neither", "inc-c"]),
            ("Host inc-*\n  Include \(include)/b.conf\nHost *\n  User outside\n", ["inc-a", "inc-b", "plain"]),
            ("# comment\n\nHost  multi   spaced\n\tPort\t4040\n  User  tabbed\n", ["multi", "spaced", "none"]),
            // ProxyJump and ProxyCommand: the first of the two wins, `none` included; forms of a jump.
            ("Host j1\n  ProxyJump alice@b1:2200,b2\n  ProxyCommand nc %h %p\nHost j2\n  ProxyCommand ssh -W %h:%p \"b 3\"\n  ProxyJump b3\n"
                + "Host j3\n  ProxyJump none\n  ProxyJump b4\nHost j4\n  ProxyCommand none\n  ProxyJump b5\nHost j5\n  ProxyJump=ssh://u@h:33\n"
                + "Host j6\n  ProxyJump 10.0.0.7:2222,[::1]:22,jump@10.0.0.8\nHost j7 j8\n  ProxyCommand=/bin/connect %r@%h:%p %%\nHost j8\n  ProxyJump x\n"
                + "Host *\n  ProxyJump fallback.example.com\n", ["j1", "j2", "j3", "j4", "j5", "j6", "j7", "j8", "other"]),
            ("Match host *.internal\n  ProxyJump bastion\nHost db.internal\n  ProxyJump other\n  HostName 10.1.1.1\n", ["db.internal", "web.internal", "outside"]),
        ]
    }

    struct Resolution: Equatable, CustomStringConvertible {
        var hostName, user, port, strict, connectTimeout, hostKeyAlias: String
        var identityFiles, userKnownHosts: [String]
        /// `jump a,b` (each hop normalised), `command ...` as written, or `direct`.
        var proxy: String
        var description: String { "host=\(hostName) user=\(user) port=\(port) strict=\(strict) ct=\(connectTimeout) alias=\(hostKeyAlias) ids=\(identityFiles) kh=\(userKnownHosts) proxy=\(proxy)" }

        static func proxy(_ setting: ProxySetting) -> String {
            switch setting {
            case .direct: return "direct"
            case .jump(let hops): return "jump " + hops.map(\.description).joined(separator: ",")
            case .command(let command): return "command " + command
            }
        }
    }

    private func openSSH(_ config: String, _ host: String, home: String) throws -> Resolution {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        process.arguments = ["-G", "-F", config, host]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var values: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            values[String(line[..<space]), default: []].append(String(line[line.index(after: space)...]))
        }
        let hostName = values["hostname"]?.first ?? ""
        let user = values["user"]?.first ?? ""
        let port = values["port"]?.first ?? ""
        // ssh -G prints IdentityFile as written: expand it as ssh would when loading the key.
        let identityFiles = (values["identityfile"] ?? []).map { raw -> String in
            var path = raw.hasPrefix("~/") ? home + raw.dropFirst(1) : raw
            for (token, value) in [("%h", hostName), ("%r", user), ("%p", port), ("%d", home)] { path = path.replacingOccurrences(of: token, with: value) }
            return path
        }
        let strict = ["true": "yes", "false": "no"][values["stricthostkeychecking"]?.first ?? ""] ?? (values["stricthostkeychecking"]?.first ?? "")
        let timeout = values["connecttimeout"]?.first ?? "none"
        return Resolution(
            hostName: hostName, user: user, port: port, strict: strict, connectTimeout: timeout,
            hostKeyAlias: values["hostkeyalias"]?.first ?? "",
            identityFiles: identityFiles, userKnownHosts: (values["userknownhostsfile"]?.first ?? "").split(separator: " ").map(String.init),
            proxy: try Self.proxy(proxyJump: values["proxyjump"]?.first, proxyCommand: values["proxycommand"]?.first))
    }

    /// ssh -G prints a jump chain partly as written, partly normalised: parse it back, hop by hop.
    private static func proxy(proxyJump: String?, proxyCommand: String?) throws -> String {
        if let proxyJump { return Resolution.proxy(.jump(try proxyJump.split(separator: ",").map { try JumpHost(parsing: String($0)) })) }
        if let proxyCommand { return Resolution.proxy(.command(proxyCommand)) }
        return "direct"
    }

    private func ours(_ config: String, _ host: String, home: String, localUser: String) throws -> Resolution {
        let resolved = try SSHConfig.load(explicitPath: config, homeDirectory: home).resolve(host: host, localUser: localUser, homeDirectory: home)
        return Resolution(
            hostName: resolved.hostName, user: resolved.user, port: String(resolved.port), strict: resolved.strictHostKeyChecking.rawValue,
            connectTimeout: resolved.connectTimeout.map(String.init) ?? "none", hostKeyAlias: resolved.hostKeyAlias ?? "",
            identityFiles: resolved.identityFiles, userKnownHosts: resolved.userKnownHostsFiles, proxy: Resolution.proxy(resolved.proxy))
    }

    @Test func everyCaseResolvesAsSSHDashGDoes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-sshg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/inc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "Host inc-a\n  Port 3001\n  User from-a\n".write(toFile: directory + "/inc/a.conf", atomically: true, encoding: .utf8)
        try "Host inc-b\n  Port 3002\n".write(toFile: directory + "/inc/b.conf", atomically: true, encoding: .utf8)
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let localUser = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
        var cases = 0
        var mismatches: [String] = []
        for (index, entry) in Self.corpus(directory: directory).enumerated() {
            let path = directory + "/config\(index)"
            try entry.config.write(toFile: path, atomically: true, encoding: .utf8)
            for host in entry.hosts {
                cases += 1
                let expected = try openSSH(path, host, home: home)
                let actual = try ours(path, host, home: home, localUser: localUser)
                if expected != actual { mismatches.append("config\(index) \(host):\n  ssh -G: \(expected)\n  ours:   \(actual)") }
            }
        }
        #expect(cases >= 50)
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases) differ:\n\(mismatches.joined(separator: "\n"))")
    }
}
