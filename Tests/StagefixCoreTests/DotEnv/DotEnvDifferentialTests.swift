// Compares EnvFile with the real python-dotenv on a corpus of files and on files written by `setting`.

import Foundation
import PropertyBased
import StagefixCore
import Testing

/// A value written into a file by `setting`, to be read back by both parsers.
struct DotEnvRoundTrip: Sendable, CustomStringConvertible {
    let base: String
    let key: String
    let value: String
    let edited: Result<String, EnvFileEditError>

    var description: String { "set \(key) to \(String(reflecting: value)) in \(String(reflecting: base))" }
}

/// Everything the differential tests ask python-dotenv, asked in a single python run.
enum DotEnvDifferentialBatch {
    /// Fixed so a failure names a file that stays the same; `STAGEFIX_DOTENV_SEED` (a seed from
    /// a property test's failure message) explores others.
    static let seed = ProcessInfo.processInfo.environment["STAGEFIX_DOTENV_SEED"] ?? "c3RhZ2VmaXg6IGRvdGVudiBkaWZmZXJlbnRpYWwgMDE="

    static let generatedCount = 150
    static let roundTripCount = 150

    static let corpus: [DotEnvCase] = {
        var rng = randomSource(offset: 0)
        let generated = (0..<generatedCount).map { index in
            DotEnvCase(name: "generated #\(index)", text: DotEnvGrammar.file.run(using: &rng))
        }
        return DotEnvCorpus.handWritten + generated
    }()

    /// Files a key is set in: empty, LF and CRLF, with and without the key, with `export`,
    /// comments, duplicates and references to it.
    static let roundTripBases = [
        "",
        "A=1",
        "# settings\nA=1\nTARGET=old # keep this comment\nB=${TARGET}\n",
        "export TARGET='old'\r\nA=\"x\"\r\n",
        "TARGET=first\n# between\nTARGET=second\nC=3\n",
        "TARGET\n",
        "A=1\r\nB=2\r\n",
        "\u{FEFF}A=1\rB=2\r",
    ]

    static let roundTrips: [DotEnvRoundTrip] = {
        var rng = randomSource(offset: 1)
        return (0..<roundTripCount).map { index in
            let base = roundTripBases[index % roundTripBases.count]
            let key = index % 3 == 0 ? "NEW_KEY" : "TARGET"
            let value = DotEnvGrammar.valueToWrite.run(using: &rng)
            let file = EnvFile(parsing: base, environment: dotEnvTestEnvironment)
            let edited = Result { () throws(EnvFileEditError) in try file.setting(key, to: value) }
            return DotEnvRoundTrip(base: base, key: key, value: value, edited: edited)
        }
    }()

    /// python-dotenv's answers: the corpus first, then each round trip's edited file.
    static let reference: DotEnvReference.Outcome = {
        let texts = corpus.map(\.text) + roundTrips.map { (try? $0.edited.get()) ?? "" }
        return DotEnvReference.run(files: texts.map { Array($0.utf8) }, environment: dotEnvTestEnvironment)
    }()

    static var isComparable: Bool {
        if case .unavailable = reference { return false }
        return true
    }

    /// The reference results, or an issue saying why there are none.
    static func referenceResults(sourceLocation: SourceLocation = #_sourceLocation) -> [DotEnvReferenceResult]? {
        switch reference {
        case .results(_, let results):
            return results
        case .unavailable(let reason), .failed(let reason):
            Issue.record(Comment(rawValue: reason), sourceLocation: sourceLocation)
            return nil
        }
    }

    private static func randomSource(offset: UInt64) -> Xoshiro {
        guard var rng = Xoshiro(seed: seed) else {
            preconditionFailure("STAGEFIX_DOTENV_SEED must be a seed as printed by PropertyBased (44 base64 characters)")
        }
        for _ in 0..<offset {
            _ = rng.next()
        }
        return rng
    }
}

@Test func theDifferentialCorpusIsLargeEnough() {
    #expect(DotEnvCorpus.handWritten.count >= 60)
    #expect(DotEnvDifferentialBatch.corpus.count == DotEnvCorpus.handWritten.count + DotEnvDifferentialBatch.generatedCount)
}

@Suite(.enabled(if: DotEnvDifferentialBatch.isComparable, Comment(rawValue: DotEnvReference.skipMessage)))
struct DotEnvDifferentialTests {
    @Test func everyCorpusFileParsesAsPythonDotenvParsesIt() throws {
        let results = try #require(DotEnvDifferentialBatch.referenceResults())
        var matched = 0
        for (index, testCase) in DotEnvDifferentialBatch.corpus.enumerated() {
            let ours = EnvFile(parsing: testCase.text, environment: dotEnvTestEnvironment)
            if expectSameReading(ours, results[index], "\(testCase)") {
                matched += 1
            }
        }
        #expect(matched == DotEnvDifferentialBatch.corpus.count, "\(matched) of \(DotEnvDifferentialBatch.corpus.count) corpus files matched python-dotenv")
    }

    @Test func writtenValuesReadBackExactlyInPythonDotenv() throws {
        let results = try #require(DotEnvDifferentialBatch.referenceResults())
        let offset = DotEnvDifferentialBatch.corpus.count
        for (index, roundTrip) in DotEnvDifferentialBatch.roundTrips.enumerated() {
            guard let edited = try? roundTrip.edited.get() else {
                Issue.record("setting failed: \(roundTrip): \(roundTrip.edited)")
                continue
            }
            let reference = results[offset + index]
            let pythonValue = reference.entries.first { $0.key == roundTrip.key }?.value
            #expect(pythonValue.map(scalars) == scalars(roundTrip.value), "python-dotenv read back \(String(reflecting: pythonValue)): \(roundTrip), wrote \(String(reflecting: edited))")
            expectSameReading(EnvFile(parsing: edited, environment: dotEnvTestEnvironment), reference, "\(roundTrip)")
        }
    }

    /// Same keys in the same order with the same values, and the same lines warned about.
    @discardableResult
    private func expectSameReading(_ ours: EnvFile, _ reference: DotEnvReferenceResult, _ label: String) -> Bool {
        let ourEntries = ours.entries.map { [scalars($0.key), $0.value.map(scalars)] }
        let pythonEntries = reference.entries.map { [scalars($0.key), $0.value.map(scalars)] }
        let ourLines = ours.problems.map(\.line)
        #expect(ourEntries == pythonEntries, "entries differ for \(label)\n ours:   \(ours.entries.map { ($0.key, $0.value) })\n python: \(reference.entries.map { ($0.key, $0.value) })")
        #expect(ourLines == reference.problemLines, "unparsed lines differ for \(label)")
        return ourEntries == pythonEntries && ourLines == reference.problemLines
    }

    private func scalars(_ text: String) -> [Unicode.Scalar] {
        Array(text.unicodeScalars)
    }
}
