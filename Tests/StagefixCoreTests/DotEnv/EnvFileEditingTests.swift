// `EnvFile.setting`: values read back exactly, and every byte it does not have to change stays.

import PropertyBased
import StagefixCore
import Testing

struct EnvFileEditingTests {
    private func set(_ key: String, _ value: String, in text: String) throws -> String {
        try EnvFile(parsing: text).setting(key, to: value)
    }

    // MARK: Where the value goes

    @Test func aNewKeyIsAppendedWithTheFilesLineBreak() throws {
        #expect(try set("B", "2", in: "") == "B=2\n")
        #expect(try set("B", "2", in: "A=1\n") == "A=1\nB=2\n")
        #expect(try set("B", "2", in: "A=1") == "A=1\nB=2\n")
        #expect(try set("B", "2", in: "A=1\r\n# c\r\n") == "A=1\r\n# c\r\nB=2\r\n")
        #expect(try set("B", "2", in: "A=1\r\n# c") == "A=1\r\n# c\r\nB=2\r\n")
        #expect(try set("B", "2", in: "A=1\rC=3\r") == "A=1\rC=3\rB=2\r")
    }

    @Test func anExistingValueIsReplacedInPlaceKeepingExportAndComment() throws {
        #expect(try set("A", "2", in: "# top\nexport A=1 # the port\nB=x\n") == "# top\nexport A=2 # the port\nB=x\n")
        #expect(try set("A", "two words", in: "A=\"old\"   # c\r\nB=1\r\n") == "A='two words'   # c\r\nB=1\r\n")
        #expect(try set("A", "new", in: "'A' = 'multi\nline' # c\n") == "'A' = new # c\n")
    }

    @Test func onlyTheLastDuplicateChanges() throws {
        #expect(try set("A", "3", in: "A=1\nB=${A}\nA=2\n") == "A=1\nB=${A}\nA=3\n")
    }

    @Test func aBareKeyGetsItsValueAfterTheKey() throws {
        #expect(try set("A", "1", in: "export A # set me\n") == "export A=1 # set me\n")
    }

    @Test func aValueThatWouldMergeWithATightCommentIsQuoted() throws {
        #expect(try set("A", "x", in: "A=\"old\"# tight\n") == "A='x'# tight\n")
        #expect(try set("A", "", in: "A='old' # c\n") == "A='' # c\n")
    }

    // MARK: Quoting

    @Test(arguments: [
        ("plain", "plain"),
        ("", ""),
        ("a=b:c/d@e", "a=b:c/d@e"),
        (#"C:\path\"#, #"C:\path\"#),
        ("two words", "'two words'"),
        (" padded ", "' padded '"),
        ("a #b", "'a #b'"),
        (#"say "hi""#, #"'say "hi"'"#),
        ("it's", #""it's""#),
        (#"it's "both""#, #""it's \"both\"""#),
        ("line\nbreak", #""line\nbreak""#),
        ("cr\r\nlf", #""cr\r\nlf""#),
        (#"back\slash and space"#, #"'back\\slash and space'"#),
        ("${HOME}", "${:-$}{HOME}"),
        ("$ {x} $$ {", "'$ {x} $$ {'"),
        ("cost ${x}", "'cost ${:-$}{x}'"),
        (#"ends in \"#, #"'ends in \\${:-}'"#),
    ])
    func valuesAreQuotedOnlyWhenNeeded(value: String, written: String) throws {
        #expect(try set("K", value, in: "") == "K=\(written)\n")
        #expect(EnvFile(parsing: "K=\(written)\n", environment: ["HOME": "/home/site", "x": "X"]).value(of: "K") == value)
    }

    // MARK: Keys and errors

    @Test(arguments: ["", "1A", ".A", "A B", "A=B", "A#", "'A'", "é", "A-B"])
    func invalidKeysAreRefused(key: String) {
        #expect(throws: EnvFileEditError.invalidKey(key)) { try EnvFile(parsing: "").setting(key, to: "x") }
    }

    @Test(arguments: ["A", "_", "a.b", "DJANGO_SECRET_KEY", "x9"])
    func validKeysAreAccepted(key: String) {
        #expect(EnvFile.isValidKey(key))
    }

    @Test func anUnterminatedQuoteThatWouldSwallowTheNewLineIsAnError() throws {
        let file = EnvFile(parsing: "A=\"abc\nB=1\n")
        #expect(throws: EnvFileEditError.wouldChangeOtherLines(key: "C", line: 2, unparsableLine: 1)) { try file.setting("C", to: #"say "hi""#) }
        // A value without a double quote is safe there.
        #expect(try file.setting("C", to: "fine") == "A=\"abc\nB=1\nC=fine\n")
    }

    @Test func aValueClosedOnlyBecauseNoLaterQuoteFollowsIsProtected() throws {
        // `A="abc\"` ends at its escaped quote only while no lone `"` follows anywhere in the file.
        let file = EnvFile(parsing: #"A="abc\""# + "\n")
        #expect(file.value(of: "A") == "abc\\")
        #expect(throws: EnvFileEditError.wouldChangeOtherLines(key: "C", line: 1, unparsableLine: nil)) { try file.setting("C", to: #"x"y"#) }
    }

    @Test func severalKeysAtOnce() throws {
        let text = try EnvFile(parsing: "A=1\n").setting([(key: "A", value: "2"), (key: "B", value: "x y")])
        #expect(text == "A=2\nB='x y'\n")
    }

    // MARK: Properties

    static let baseFiles = [
        "",
        "A=1",
        "# settings\r\nexport TARGET=old # keep\r\nB=${TARGET}\r\n",
        "TARGET='first'\nC=3\nTARGET\n",
        "A=\"multi\nline\"\nTARGET=\"x\"# tight\n",
    ]

    @Test func setThenParseGivesTheExactValue() async {
        await propertyCheck(input: DotEnvGrammar.valueToWrite, Gen.int(in: 0...(Self.baseFiles.count - 1)), Gen.bool) { value, baseIndex, existing in
            let file = EnvFile(parsing: Self.baseFiles[baseIndex], environment: ["HOME": "/home/site"])
            let key = existing ? "TARGET" : "NEW_KEY"
            let edited = try file.setting(key, to: value)
            let reread = EnvFile(parsing: edited, environment: file.environment)
            #expect(reread.value(of: key).map { Array($0.unicodeScalars) } == Array(value.unicodeScalars), "wrote \(String(reflecting: edited))")
            #expect(reread.problems == file.problems)
        }
    }

    @Test func settingTwiceChangesNothingMore() async {
        await propertyCheck(input: DotEnvGrammar.valueToWrite, Gen.int(in: 0...(Self.baseFiles.count - 1))) { value, baseIndex in
            let once = try EnvFile(parsing: Self.baseFiles[baseIndex]).setting("TARGET", to: value)
            let twice = try EnvFile(parsing: once).setting("TARGET", to: value)
            #expect(Array(twice.utf8) == Array(once.utf8))
        }
    }

    @Test func linesNotHoldingTheValueStayByteIdentical() async {
        await propertyCheck(input: DotEnvGrammar.valueToWrite, Gen.int(in: 0...(Self.baseFiles.count - 1)), Gen.bool) { value, baseIndex, existing in
            let base = Self.baseFiles[baseIndex]
            let file = EnvFile(parsing: base)
            let key = existing ? "TARGET" : "NEW_KEY"
            let edited = try file.setting(key, to: value)
            let before = Self.lines(base)
            let after = Self.lines(edited)
            if let target = file.bindings.last(where: { $0.key == key }) {
                let untouchedTail = before.count - target.lastLine
                #expect(Array(after.prefix(target.line - 1)) == Array(before.prefix(target.line - 1)))
                #expect(Array(after.suffix(untouchedTail)) == Array(before.suffix(untouchedTail)))
            } else {
                #expect(Array(edited.utf8).starts(with: Array(base.utf8)))
            }
        }
    }

    @Test func crlfFilesKeepCRLF() async {
        await propertyCheck(input: DotEnvGrammar.valueToWrite, Gen.bool) { value, existing in
            let base = "# settings\r\nexport TARGET=old # keep\r\nB=2\r\n"
            let edited = try EnvFile(parsing: base).setting(existing ? "TARGET" : "NEW_KEY", to: value)
            let scalars = Array(edited.unicodeScalars)
            let loneLineFeeds = scalars.indices.filter { scalars[$0] == "\n" && ($0 == 0 || scalars[$0 - 1] != "\r") }
            #expect(loneLineFeeds.isEmpty, "wrote \(String(reflecting: edited))")
            #expect(edited.hasSuffix("\r\n"))
        }
    }

    @Test func generatedFilesReadTheWrittenValueBack() async {
        await propertyCheck(input: DotEnvGrammar.file, DotEnvGrammar.valueToWrite, Gen.bool) { text, value, existing in
            let file = EnvFile(parsing: text)
            let key = existing ? (file.bindings.last.flatMap { EnvFile.isValidKey($0.key) ? $0.key : nil } ?? "A") : "NEW_KEY"
            // It may refuse (when a quote in the value would end an earlier quoted value), never misread.
            if let edited = try? file.setting(key, to: value) {
                #expect(EnvFile(parsing: edited).value(of: key).map { Array($0.unicodeScalars) } == Array(value.unicodeScalars))
            }
        }
    }

    /// The text cut after each line break, with it: `"a\r\nb"` -> `["a\r\n", "b"]`.
    private static func lines(_ text: String) -> [[Unicode.Scalar]] {
        var lines: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in text.unicodeScalars {
            current.append(scalar)
            if scalar == "\n" {
                lines.append(current)
                current = []
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
