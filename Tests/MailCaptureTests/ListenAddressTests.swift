// Listen addresses as typed on a command line, and the one-line errors a person sees.
import Testing
@testable import MailCapture

@Suite("Listen address and errors")
struct ListenAddressTests {
    @Test(arguments: [
        ("2525", "127.0.0.1", 2525),
        ("0", "127.0.0.1", 0),
        ("0.0.0.0:25", "0.0.0.0", 25),
        ("localhost:65535", "localhost", 65535),
        ("[::1]:2525", "::1", 2525),
        ("[fe80::1%eth0]:0", "fe80::1%eth0", 0),
    ])
    func validAddresses(text: String, host: String, port: Int) throws {
        let parsed = try CaptureServerConfiguration.parseListenAddress(text)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
    }

    @Test(arguments: ["", "abc", ":2525", "127.0.0.1:", "127.0.0.1:x", "::1", "[::1]", "[::1]2525", "[]:25", "65536", "1.2.3.4:-1", "123456", " 25"])
    func invalidAddresses(text: String) {
        #expect(throws: MailCaptureError.invalidListenAddress(text)) {
            try CaptureServerConfiguration.parseListenAddress(text)
        }
    }

    @Test func descriptionsAreOneLineWithWhatToDo() {
        #expect(MailCaptureError.addressInUse(host: "127.0.0.1", port: 2525).description
            == "cannot listen on 127.0.0.1:2525: address already in use; pick another --listen port or 0 for any free one")
        #expect(MailCaptureError.addressInUse(host: "::1", port: 25).description.hasPrefix("cannot listen on [::1]:25: "))
        let all: [MailCaptureError] = [
            .addressNotAvailable(host: "10.9.9.9", port: 1),
            .permissionDenied(host: "0.0.0.0", port: 25),
            .unknownHost(host: "nowhere.invalid", port: 1),
            .cannotListen(host: "h", port: 1, reason: "r"),
            .invalidListenAddress("x"),
            .invalidConfiguration("p"),
            .maildirUnusable(path: "/m", reason: "r"),
            .deliveryFailed(path: "/m", reason: "r"),
        ]
        for error in all {
            #expect(!error.description.contains("\n"))
        }
        #expect(MailCaptureError.invalidListenAddress("x").description
            == "invalid listen address 'x': expected PORT, HOST:PORT or [IPv6]:PORT with a port from 0 to 65535, e.g. 127.0.0.1:2525")
    }
}
