// Env values reach the command byte-exact through the stdin script, and never through argv.
import Foundation
import PropertyBased
import SSH
import StagefixCore
import Testing

struct EnvDeliveryTests {
    /// Runs the real prologue shape locally: `eval "$(cat)"` of the script, then prints each value.
    private func roundTrip(_ values: [(key: String, value: String)]) throws -> [String] {
        let printer = values.map { "printf '%s\\036' \"$\($0.key)\"" }.joined(separator: "; ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "eval \"$(cat)\" && exec sh -c \(ShellQuoting.quote(printer)) </dev/null"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(EnvDelivery.script(values)))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\u{1e}", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test func trickyValuesArriveByteExact() throws {
        let values = [
            ("DJANGO_SECRET_KEY", "a$b`c`\"d\" 'e' #f =g \\h"),
            ("MULTI", "line one\nline two\n"),
            ("EMPTY", ""),
            ("DOLLAR_PAREN", "$(touch /tmp/stagefix-pwned)"),
            ("QUOTES", "'''"),
        ]
        #expect(try roundTrip(values) == values.map(\.1))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/stagefix-pwned"))
    }

    @Test func generatedValuesSurviveTheShell() async throws {
        let characters = Gen.oneOf(
            Gen.character(in: "\u{01}"..."\u{1d}"), Gen.character(in: "\u{1f}"..."\u{7e}"),
            Gen.always("'"), Gen.always("$"), Gen.always("`"), Gen.always("\\"), Gen.always("\n"), Gen.always("é"))
        var generated: [String] = []
        await propertyCheck(count: 100, input: characters.string(of: 0...40)) { generated.append($0) }
        let values = generated.enumerated().map { (key: "V\($0.offset)", value: $0.element) }
        #expect(try roundTrip(values) == generated)
    }

    @Test func keysNoShellCanHoldAreLeftOut() {
        #expect(EnvDelivery.isExportable("DJANGO_SECRET_KEY"))
        #expect(!EnvDelivery.isExportable("dotted.key"))
        #expect(!EnvDelivery.isExportable("1ABC"))
        #expect(String(decoding: EnvDelivery.script([("a.b", "x"), ("OK", "y")]), as: UTF8.self) == "export OK='y'\n")
    }

    @Test func theCommandLineHoldsNoValueAndQuotesEveryArgument() {
        let layout = SiteLayout(projectPath: "~/sites/staging.example.com")
        let line = ManagementCommandLine.build(layout: layout, arguments: ["create_session", "o'brien@example.com"], deliversEnv: true)
        #expect(line.contains("cd \"$HOME\"/sites/staging.example.com"))
        #expect(line.contains("exec .venv/bin/python manage.py create_session 'o'\\''brien@example.com' </dev/null"))
        #expect(line.contains("eval \"$(cat)\""))
    }

    @Test func aContainerPrefixReplacesTheInterpreter() {
        let layout = SiteLayout(projectPath: "/srv/app", envFile: nil, commandPrefix: ["docker", "exec", "-i", "superlists", "python", "manage.py"])
        let line = ManagementCommandLine.build(layout: layout, arguments: ["flush", "--noinput"], deliversEnv: false)
        #expect(line.hasSuffix("exec docker exec -i superlists python manage.py flush --noinput </dev/null"))
        #expect(!line.contains("eval"))
    }
}

struct EmailAndKeyTests {
    @Test(arguments: ["edith@example.com", "o'brien@example.com", "a+tag@example.com", "x@localhost", "first.last@sub.example.co.uk"])
    func addressesAreAccepted(text: String) throws {
        #expect(try EmailAddress(text).value == text)
    }

    @Test(arguments: ["", "edith", "@example.com", "edith@", "a@b.c;touch /tmp/x", "a@b.c$(touch /tmp/x)", "a b@example.com", "a@-x.com", "a..b@example.com", "a@b..com"])
    func nonAddressesAreInvalidData(text: String) {
        #expect {
            _ = try EmailAddress(text)
        } throws: { error in
            ExitStatus(for: error) == .invalidData
        }
    }

    @Test func theKeyIsTheLastLineAndWarningsAreIgnored() throws {
        let output = "DeprecationWarning: something\n  old = thing\nk2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h\n"
        #expect(try SessionKey.parse(commandOutput: output, email: "e@x.com").value == "k2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h")
    }

    @Test func aLastLineThatIsNoKeyIsAnErrorShowingTheTail() {
        #expect {
            _ = try SessionKey.parse(commandOutput: "k2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h\nTraceback: boom\n", email: "e@x.com")
        } throws: { error in
            String(describing: error).contains("Traceback: boom")
        }
    }
}
