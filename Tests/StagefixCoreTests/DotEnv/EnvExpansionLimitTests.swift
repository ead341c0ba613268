// `${...}` expansion is bounded: a small hostile file of doubling references is refused, naming the
// key and line, without building the value; anything within the bounds expands exactly as before.
import PropertyBased
@testable import StagefixCore
import Testing

struct EnvExpansionLimitTests {
    /// The finding: 870 bytes whose last value would be 2^k copies of the first (gigabytes).
    static let doublingFile: String = {
        var lines = ["V0=" + String(repeating: "x", count: 64)]
        var index = 1
        while lines.joined(separator: "\n").utf8.count < 850 {
            lines.append("V\(index)=${V\(index - 1)}${V\(index - 1)}")
            index += 1
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test func theDoublingFileIsRefusedNamingTheKeyAndLine() throws {
        #expect(Self.doublingFile.utf8.count < 900)
        let file = EnvFile(parsing: Self.doublingFile)
        let oversized = try #require(file.oversizedValue)
        // 64 bytes doubled 14 times is 1 MiB, within the bound; the 15th doubling crosses it.
        #expect(oversized.key == "V15")
        #expect(oversized.line == 16)
        #expect(oversized.bound == .value(1 << 20))
        #expect(file.entries.isEmpty, "no value of a refused file is used")
        #expect(oversized.description.contains("V15"))
        #expect(oversized.description.contains("1 MiB"))
    }

    @Test func manyValuesUnderTheirOwnBoundStillHitTheFileBound() {
        // Nine keys of 1 MiB each: each within 1 MiB, together past 8 MiB.
        var text = "A=" + String(repeating: "y", count: 1 << 17) + "\n"
        for doubling in 1...3 { text += "A\(doubling)=${A\(doubling == 1 ? "" : String(doubling - 1))}${A\(doubling == 1 ? "" : String(doubling - 1))}\n" }
        for copy in 0..<9 { text += "COPY\(copy)=${A3}\n" }
        let file = EnvFile(parsing: text)
        #expect(file.oversizedValue?.bound == .file(8 << 20))
        #expect(file.oversizedValue?.key.hasPrefix("COPY") == true)
    }

    @Test func theServerEnvironmentRefusesSuchAFileWith65() throws {
        let environment = ServerEnvironment(path: "~/sites/x/.env", text: Self.doublingFile)
        #expect(environment.values.isEmpty)
        #expect(environment.problems.contains { $0.line == 16 && $0.message.contains("V15") })
        #expect {
            _ = try environment.checkedForUse()
        } throws: { error in
            guard let error = error as? StagefixError, case let .invalidData(message) = error else { return false }
            return error.exitStatus == .invalidData && message.contains("~/sites/x/.env line 16") && message.contains("V15")
        }
    }

    /// Values of references and plain text, some of them large.
    static let piece = Gen.oneOf(
        Gen.always("${A}"), Gen.always("${B:-fallback}"), Gen.always("plain"), Gen.always("é"), Gen.always("${MISSING}"))

    @Test func withinTheBoundExpansionIsUnchangedAndPastItNothingIsBuilt() async {
        await propertyCheck(input: Self.piece.array(of: 0...12), Gen.int(in: 0...200), Gen.int(in: 0...60)) { pieces, limit, sizeOfA in
            let raw = pieces.joined()
            let values = ["A": String(repeating: "a", count: sizeOfA), "B": "bee"]
            let lookup: (String, String?) -> String = { name, fallback in values[name] ?? fallback ?? "" }
            let unbounded = DotEnvInterpolation.expand(raw, lookup: lookup)!
            let bounded = DotEnvInterpolation.expand(raw, limit: limit, lookup: lookup)
            if unbounded.utf8.count <= limit {
                #expect(bounded == unbounded)
            } else {
                #expect(bounded == nil)
            }
        }
    }
}
