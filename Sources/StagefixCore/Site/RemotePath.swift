// Paths on the server compared as text (no round trip): `~`, relative and `..` forms of one folder
// come out the same, so "is this inside the site's folder" cannot be fooled by spelling.

public enum RemotePath {
    /// `~/a/./b/../c` → `~/a/c`; a relative path is relative to the login folder (as SFTP and exec
    /// channels see it), so `sites/x` → `~/sites/x`. `..` never climbs above `/` or `~`.
    public static func normalized(_ path: String) -> String {
        var root: String
        var rest: Substring
        if path.hasPrefix("/") {
            root = "/"
            rest = path.dropFirst()
        } else if path == "~" || path.hasPrefix("~/") {
            root = "~/"
            rest = path.dropFirst(path == "~" ? 1 : 2)
        } else {
            root = "~/"
            rest = Substring(path)
        }
        var parts: [Substring] = []
        for part in rest.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        if parts.isEmpty { root = root == "~/" ? "~" : "/" }
        return root + parts.joined(separator: "/")
    }

    /// `path` with a leading `~` (or a relative path) made absolute under `home`, then normalized.
    public static func absolute(_ path: String, home: String) -> String {
        let path = normalized(path)
        if path == "~" { return normalized(home) }
        if path.hasPrefix("~/") { return normalized(home + "/" + path.dropFirst(2)) }
        return path
    }

    /// Whether `path` is `folder` or lies under it (both normalized).
    public static func isInside(_ path: String, folder: String) -> Bool {
        let path = normalized(path), folder = normalized(folder)
        if path == folder { return true }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return path.hasPrefix(prefix) || (folder == "~" && path.hasPrefix("~/"))
    }

    /// The folder holding `path` (`~/sites/x` → `~/sites`).
    public static func parent(_ path: String) -> String {
        let path = normalized(path)
        guard let slash = path.lastIndex(of: "/") else { return path }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last component (`~/sites/x` → `x`).
    public static func lastComponent(_ path: String) -> String {
        let path = normalized(path)
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
