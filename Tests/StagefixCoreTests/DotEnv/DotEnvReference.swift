// Runs the real python-dotenv once over a batch of env files and reads back what it made of each.

import Foundation

/// What python-dotenv's `dotenv_values(path)` returned for one file, and the lines it warned about.
struct DotEnvReferenceResult: Sendable, Decodable {
    struct Entry: Sendable, Decodable {
        let key: String
        let value: String?

        init(from decoder: any Decoder) throws {
            var pair = try decoder.unkeyedContainer()
            key = try pair.decode(String.self)
            value = try pair.decodeIfPresent(String.self)
        }
    }

    let entries: [Entry]
    /// The N of each "python-dotenv could not parse statement starting at line N" warning.
    let problemLines: [Int]
}

enum DotEnvReference {
    enum Outcome: Sendable {
        /// No python-dotenv to compare with, and nobody asked for one: the tests are skipped.
        case unavailable(String)
        /// `STAGEFIX_PYTHON` was set, or python ran, but the run failed: the tests fail.
        case failed(String)
        case results(version: String, [DotEnvReferenceResult])
    }

    static let skipMessage = "python-dotenv is not importable by python3: pip install python-dotenv (or set STAGEFIX_PYTHON to a python that has it)"

    /// Writes `files` to a temporary directory and runs one python process over all of them, with
    /// `os.environ` replaced by `environment` so `${NAME}` sees exactly what our parser sees.
    static func run(files: [[UInt8]], environment: [String: String]) -> Outcome {
        let requested = ProcessInfo.processInfo.environment["STAGEFIX_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        guard let python = executable(named: requested ?? "python3") else {
            return requested == nil ? .unavailable("no python3 on PATH; " + skipMessage) : .failed("STAGEFIX_PYTHON=\(requested!) is not an executable")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-dotenv-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var names: [String] = []
            for (index, bytes) in files.enumerated() {
                let name = String(format: "%05d.env", index)
                try Data(bytes).write(to: directory.appendingPathComponent(name))
                names.append(name)
            }
            try JSONEncoder().encode(environment).write(to: directory.appendingPathComponent("environment.json"))
            try Data(script.utf8).write(to: directory.appendingPathComponent("reference.py"))
            try Data(names.joined(separator: "\n").utf8).write(to: directory.appendingPathComponent("files.txt"))

            let stderrURL = directory.appendingPathComponent("stderr.txt")
            _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
            let process = Process()
            process.executableURL = python
            process.arguments = [directory.appendingPathComponent("reference.py").path, directory.path]
            let stdout = Pipe()
            process.standardOutput = stdout
            process.standardError = try FileHandle(forWritingTo: stderrURL)
            try process.run()
            // Read before waiting: a full pipe would otherwise block python forever.
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            guard process.terminationStatus == 0 else {
                return .failed("\(python.path) exited with \(process.terminationStatus): \(stderr)")
            }
            let report = try JSONDecoder().decode(Report.self, from: output)
            if let missing = report.missing {
                let reason = "\(python.path) cannot import dotenv (\(missing)); "
                return requested == nil ? .unavailable(reason + skipMessage) : .failed(reason + "pip install python-dotenv")
            }
            guard let results = report.results, results.count == files.count else {
                return .failed("python-dotenv answered for \(report.results?.count ?? 0) of \(files.count) files")
            }
            return .results(version: report.version ?? "?", results)
        } catch {
            return .failed("running python-dotenv failed: \(error)")
        }
    }

    private struct Report: Decodable {
        let missing: String?
        let version: String?
        let results: [DotEnvReferenceResult]?
    }

    /// A path as given, or the first executable of that name on `PATH`.
    private static func executable(named name: String) -> URL? {
        if name.contains("/") {
            return FileManager.default.isExecutableFile(atPath: name) ? URL(fileURLWithPath: name) : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return URL(fileURLWithPath: candidate)
            }
        }
        return nil
    }

    /// One run over every file: JSON with each file's `dotenv_values` items in order, and the
    /// line numbers python-dotenv's logger warned about.
    private static let script = #"""
        import json, logging, os, sys

        try:
            import dotenv
            from dotenv import dotenv_values
        except ImportError as error:
            print(json.dumps({"missing": str(error)}))
            sys.exit(0)

        try:
            from importlib.metadata import version
            dotenv_version = version("python-dotenv")
        except Exception:
            dotenv_version = "?"

        directory = sys.argv[1]
        with open(os.path.join(directory, "environment.json"), encoding="utf-8") as stream:
            environment = json.load(stream)
        with open(os.path.join(directory, "files.txt"), encoding="utf-8") as stream:
            names = [name for name in stream.read().split("\n") if name]

        warned = []

        class CollectUnparsedLines(logging.Handler):
            def emit(self, record):
                if "could not parse statement" in str(record.msg):
                    warned.append(int(record.args[0]))

        logger = logging.getLogger("dotenv.main")
        logger.addHandler(CollectUnparsedLines())
        logger.propagate = False

        os.environ.clear()
        os.environ.update(environment)

        results = []
        for name in names:
            warned.clear()
            values = dotenv_values(os.path.join(directory, name))
            results.append({"entries": [[key, value] for key, value in values.items()], "problemLines": list(warned)})

        print(json.dumps({"version": dotenv_version, "results": results}))
        """#
}
