// The redactor masks every env value wherever it shows up, whatever its Unicode form or neighbours.
import Testing
@testable import StagefixCore

struct RedactorTests {
    @Test func everyOccurrenceIsMaskedAndShortValuesAreLeftAlone() {
        let redactor = Redactor(values: ["s3cret-value", "y", "abc"])
        #expect(redactor.redact("key=s3cret-value; again s3cret-value.") == "key=******; again ******.")
        #expect(redactor.redact("y abc") == "y abc")
    }

    /// A secret inside a longer one: the longer goes first, so no part of it is left showing.
    @Test func aLongerSecretIsMaskedWhole() {
        let inner = "\u{200D}👩abc", outer = "👨\u{200D}👩abc"
        #expect(inner.count > outer.count && inner.utf8.count < outer.utf8.count)
        let redactor = Redactor(values: [inner, outer])
        #expect(redactor.redact("x \(outer) y") == "x ****** y")
        #expect(Redactor(values: ["password", "password123"]).redact("password123 password") == "****** ******")
    }

    /// The same text in another normalisation, and a secret followed by a combining mark.
    @Test func unicodeFormsAndCombiningMarksDoNotHideASecret() {
        let redactor = Redactor(values: ["café-secret"])  // precomposed é
        #expect(redactor.redact("cafe\u{301}-secret") == "******")
        #expect(Redactor(values: ["KEY-secret"]).redact("\u{212A}EY-secret") == "******")  // KELVIN SIGN is K
        #expect(Redactor(values: ["tail'"]).redact("tail'\u{301}") == "******\u{301}")
    }

    @Test func aSecretMadeOfMaskCharactersEnds() {
        let masked = Redactor(values: ["****"]).redact("a **** b")
        #expect(masked.hasPrefix("a **") && masked.hasSuffix("** b") && masked.allSatisfy { "ab *".contains($0) }, "\(masked)")
    }
}
