// EnvFile's parsing rules one by one, with the values python-dotenv 1.2 gives written out.

import StagefixCore
import Testing

struct EnvFileParsingTests {
    private func entries(_ text: String, environment: [String: String] = [:]) -> [String] {
        EnvFile(parsing: text, environment: environment).entries.map { "\($0.key)=\($0.value.map { String(reflecting: $0) } ?? "None")" }
    }

    @Test func plainValuesCommentsAndBlankLines() {
        #expect(entries("# c\n\nA=1\n  B = two words  \n") == [#"A="1""#, #"B="two words""#])
    }

    @Test func anInlineCommentNeedsWhitespaceBeforeIt() {
        #expect(entries("A=a#b\nB=a #b\nC= #b\nD=k=v") == [#"A="a#b""#, #"B="a""#, ##"C="#b""##, #"D="k=v""#])
    }

    @Test func exportIsAPrefixOnlyWhenFollowedByWhitespace() {
        let file = EnvFile(parsing: "export A=1\nexport=2\n")
        #expect(file.bindings.map(\.key) == ["A", "export"])
        #expect(file.bindings.map(\.isExported) == [true, false])
    }

    @Test func singleQuotesKeepEverythingButTheirTwoEscapes() {
        #expect(entries(#"A='a\nb #c'"# + "\n" + #"B='it\'s a\\b'"#) == [#"A="a\\nb #c""#, #"B="it\'s a\\b""#])
    }

    @Test func doubleQuotesDecodePythonsEscapes() {
        let file = EnvFile(parsing: #"A="1\n2\t3\"4\\5\'6\x7""#)
        #expect(file.value(of: "A") == "1\n2\t3\"4\\5'6\\x7")
    }

    @Test func quotedValuesMaySpanLines() {
        #expect(EnvFile(parsing: "A=\"x\ny\"\nB='p\r\nq'\r\n").values == ["A": "x\ny", "B": "p\nq"])
    }

    @Test func crlfAndLoneCRAreLineBreaks() {
        #expect(entries("A=1\r\nB=2\rC=3") == [#"A="1""#, #"B="2""#, #"C="3""#])
    }

    @Test func aByteOrderMarkBecomesPartOfTheFirstKey() {
        #expect(EnvFile(parsing: "\u{FEFF}A=1\n").entries.map(\.key) == ["\u{FEFF}A"])
    }

    @Test func theLastDuplicateWinsButTheFirstPlaceIsKept() {
        #expect(entries("A=1\nB=2\nA=3\n") == [#"A="3""#, #"B="2""#])
    }

    @Test func aKeyWithoutEqualsHasNoValue() {
        let file = EnvFile(parsing: "A\nexport B # comment\n")
        #expect(file.entries == [EnvEntry(key: "A", value: nil), EnvEntry(key: "B", value: nil)])
        #expect(file.values.isEmpty)
    }

    @Test func referencesExpandFromEarlierValuesThenTheEnvironment() {
        let text = "A=x\nB=${A}-${HOME}-${NONE}-${NONE:-d}\nHOME=mine\nC='${HOME}'\nD=${LATER}\nLATER=1\n"
        let file = EnvFile(parsing: text, environment: ["HOME": "/home/site"])
        #expect(file.value(of: "B") == "x-/home/site--d")
        #expect(file.value(of: "C") == "mine")
        #expect(file.value(of: "D") == "")
    }

    @Test func expansionIsNotRecursiveAndDefaultsEndAtTheFirstBrace() {
        let file = EnvFile(parsing: "A=${:-${X}}\nB=${A}\nC=${N:-${M:-z}}\n")
        #expect(file.value(of: "A") == "${X}")
        #expect(file.value(of: "B") == "${X}")
        #expect(file.value(of: "C") == "${M:-z}")
    }

    @Test func anUnparseableStatementIsSkippedAndReportedWithPythonDotenvsLine() {
        let file = EnvFile(parsing: "A=1\n\n\nfoo bar\nB=2\n")
        #expect(file.values == ["A": "1", "B": "2"])
        #expect(file.problems.map(\.line) == [2])
        #expect(file.problems.map(\.firstLine) == [4])
        #expect(file.problems.first?.message.contains("line 4") == true)
    }

    @Test func readingResumesWhereTheStatementFailed() {
        // `A B=1`: the key `A` is read, then `B=1` fails and the rest of the line is skipped.
        #expect(entries("A B=1\nC=2\n") == [#"C="2""#])
        // An unterminated quote swallows nothing: only its own line is skipped.
        #expect(entries("A=\"abc\nB=2\n") == [#"B="2""#])
    }

    @Test func aQuoteClosedLinesLaterTakesTheLinesBetween() {
        let file = EnvFile(parsing: "A='abc\nB=x'\nC=3\n")
        #expect(file.values == ["A": "abc\nB=x", "C": "3"])
    }

    @Test func aFinalEscapedQuoteClosesTheValueWhenNoOtherQuoteFollows() {
        #expect(EnvFile(parsing: #"A='a\'"# + "\nB=2\n").values == ["A": "a\\", "B": "2"])
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: EnvFileDecodingError.notUTF8) { try EnvFile(utf8: [0x41, 0x3D, 0xFF]) }
        #expect((try? EnvFile(utf8: Array("A=é".utf8)))?.values == ["A": "é"])
    }
}
