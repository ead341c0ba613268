// The HOST argument: host, user@host, host:port, user@host:port, [IPv6]:port, and clear refusals.
import SSH
import Testing

struct DestinationTests {
    @Test(arguments: [
        ("staging.example.com", Destination(host: "staging.example.com")),
        ("deploy@staging", Destination(user: "deploy", host: "staging")),
        ("staging:2222", Destination(host: "staging", port: 2222)),
        ("deploy@127.0.0.2:2222", Destination(user: "deploy", host: "127.0.0.2", port: 2222)),
        ("[::1]:2200", Destination(host: "::1", port: 2200)),
        ("u@[::1]", Destination(user: "u", host: "::1")),
        ("::1", Destination(host: "::1")),
    ])
    func parses(text: String, expected: Destination) throws {
        #expect(try Destination(parsing: text) == expected)
    }

    @Test(arguments: ["", "@host", "host:0", "host:70000", "host:ssh", "-oProxyCommand=x", "a b", "[::1", "u@"])
    func refusesWhatIsNotAHost(text: String) {
        #expect(throws: DestinationError.self) { try Destination(parsing: text) }
    }
}
