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
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw StagefixError.configuration("config file \(path) does not exist or cannot be read (given with -c)")
            }
            return StagefixConfigFile(path: path, text: text)
        }
        var directory = URL(fileURLWithPath: searchFrom).standardizedFileURL
        while true {
            let candidate = directory.appendingPathComponent("stagefix.yml").path
            if let text = try? String(contentsOfFile: candidate, encoding: .utf8) { return StagefixConfigFile(path: candidate, text: text) }
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
