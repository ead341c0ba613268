// stagefix.yml as the command found it, by content: a warm request carries it so the agent judges
// with the caller's config (none means defaults), never with a file near the agent's own folder.
import Foundation

public struct StagefixConfigFile: Codable, Sendable, Equatable {
    /// Where the caller read it (absolute), for messages only: the text is what counts.
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }

    /// `-c FILE` (relative to `searchFrom`), else the nearest `stagefix.yml` in `searchFrom` or a parent,
    /// as `StagefixConfig.load` reads them; nil when there is none.
    public static func find(explicitPath: String?, searchFrom: String) throws -> StagefixConfigFile? {
        if let explicitPath {
            let path = URL(fileURLWithPath: explicitPath, relativeTo: URL(fileURLWithPath: searchFrom + "/")).standardizedFileURL.path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw StagefixError.configuration("config file \(path) does not exist or cannot be read (given with -c)")
            }
            return StagefixConfigFile(path: path, text: try StagefixConfig.text(of: data, path: path))
        }
        var directory = URL(fileURLWithPath: searchFrom).standardizedFileURL
        while true {
            let candidate = directory.appendingPathComponent("stagefix.yml").path
            // A file that is there but unreadable or not UTF-8 is an error, never skipped: it may be
            // the one that declares production.
            if FileManager.default.fileExists(atPath: candidate) {
                guard let data = FileManager.default.contents(atPath: candidate) else {
                    throw StagefixError.configuration("\(candidate) cannot be read (check its permissions)")
                }
                return StagefixConfigFile(path: candidate, text: try StagefixConfig.text(of: data, path: candidate))
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { return nil }
            directory = parent
        }
    }
}

extension StagefixConfig {
    /// The config a found file says, or all defaults when there was none.
    public init(file: StagefixConfigFile?) throws {
        self = try file.map { try StagefixConfig.parse(yaml: $0.text, path: $0.path) } ?? StagefixConfig()
    }
}
