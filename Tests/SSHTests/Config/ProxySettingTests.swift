// ProxyJump hosts as written, jump-host resolution, and ProxyCommand's % tokens.
import Foundation
import SSH
import Testing

struct ProxySettingTests {
    @Test(arguments: [
        ("bastion", JumpHost(host: "bastion")),
        ("alice@bastion:2200", JumpHost(user: "alice", host: "bastion", port: 2200)),
        ("ssh://alice@bastion:2200", JumpHost(user: "alice", host: "bastion", port: 2200)),
        ("[::1]:22", JumpHost(host: "::1", port: 22)),
        ("10.0.0.7", JumpHost(host: "10.0.0.7")),
    ])
    func aJumpHostIsReadInEveryFormOpenSSHAccepts(text: String, expected: JumpHost) throws {
        #expect(try JumpHost(parsing: text) == expected)
    }

    @Test(arguments: ["", "@bastion", "-oProxyCommand=x", "bastion:0", "bastion:http", "a b"])
    func whatCannotBeAJumpHostIsRefused(text: String) {
        #expect(throws: DestinationError.self) { try JumpHost(parsing: text) }
    }

    @Test func aMalformedProxyJumpIsAConfigurationErrorWithItsLine() throws {
        let config = try SSHConfig.parse("Host other\n  ProxyJump bad:port\n", path: "cfg", homeDirectory: "/home/u")
        #expect(throws: SSHError.configuration(message: "ProxyJump: 'bad:port' is not a host: 'port' is not a port number (1-65535); use host, user@host or user@host:port", at: FileLocation(path: "cfg", line: 2))) {
            try config.resolve(host: "target", localUser: "u", homeDirectory: "/home/u")
        }
    }

    @Test func theLastJumpIsResolvedWithItsOwnEntryAndTheEarlierJumpsInsteadOfItsOwnProxy() throws {
        let text = """
            Host target
              ProxyJump first,carol@second:2022
            Host second
              HostName 10.0.0.2
              User bob
              Port 22
              IdentityFile /keys/second
              UserKnownHostsFile /kh/second
              ProxyJump elsewhere
            Host first
              HostName 10.0.0.1
              ProxyCommand nc %h %p
            """
        let config = try SSHConfig.parse(text, path: "cfg", homeDirectory: "/home/u")
        let target = try config.resolve(host: "target", localUser: "u", homeDirectory: "/home/u")
        guard case .jump(let chain) = target.proxy else { Issue.record("no jump: \(target.proxy)"); return }
        let second = try config.resolveJumpHost(chain, localUser: "u", homeDirectory: "/home/u")
        #expect(second.hostName == "10.0.0.2")
        #expect(second.user == "carol")
        #expect(second.port == 2022)
        #expect(second.identityFiles == ["/keys/second"])
        #expect(second.userKnownHostsFiles == ["/kh/second"])
        #expect(second.proxy == .jump([JumpHost(host: "first")]))
        let first = try config.resolveJumpHost([JumpHost(host: "first")], localUser: "u", homeDirectory: "/home/u")
        // Alone in the chain, the first jump keeps its own way there.
        #expect(first.proxy == .command("nc %h %p"))
    }

    @Test func proxyCommandTokensExpandAsOpenSSHExpandsThem() {
        let route = ConnectionRoute.proxyCommand("ssh -W %h:%p -l %r %n 100%% %x%", host: "10.0.0.5", port: 2222, user: "deploy", originalHost: "web")
        guard case .command(let command) = route else { Issue.record("not a command"); return }
        #expect(command == "ssh -W 10.0.0.5:2222 -l deploy web 100% %x%")
    }
}
