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

/// An env file's redactor masks what may be a secret and keeps what says which site was meant.
struct EnvironmentRedactorTests {
    let redactor = Redactor(environment: [
        (key: "SITENAME", value: "staging.example.com"),
        (key: "DJANGO_DB_PATH", value: "/home/elspeth/sites/staging.example.com/db.sqlite3"),
        (key: "DJANGO_SECRET_KEY", value: "short-but-secret"),
        (key: "DATABASE_URL", value: "postgres://app:hunter2-db@db.internal/app"),
        (key: "STRIPE_HOOK", value: "whsec_9f8a7b6c5d4e3f2a1b0c"),
        (key: "DEBUG", value: "true"),
    ])

    @Test func pathsAndHostNamesStayReadable() {
        let text = "cannot open /home/elspeth/sites/staging.example.com/db.sqlite3 for staging.example.com (debug true)"
        #expect(redactor.redact(text) == text)
    }

    @Test func secretsByKeyByURLAndByShapeAreMasked() {
        #expect(redactor.redact("key short-but-secret") == "key ******")
        #expect(redactor.redact("password hunter2-db refused") == "password ****** refused")
        #expect(redactor.redact("hook whsec_9f8a7b6c5d4e3f2a1b0c") == "hook ******")
    }

    @Test(arguments: [("postgres://u:pw1234@h/db", ["pw1234"]), ("https://h/?token=abcd&x=1", ["abcd"]), ("plain", [])])
    func urlPasswordsAreFound(value: String, expected: [String]) {
        #expect(SecretRedaction.urlPasswords(in: value) == expected)
    }
}
