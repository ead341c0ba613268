// Host names written in clear in known_hosts files: hosts this user has connected to, which the
// guard can recognise as production by their names (hashed entries say nothing).

public enum KnownHostsNames {
    /// Every plain host name (port form `[host]:port` reduced to `host`), in file order.
    public static func names(in files: [String]) -> [String] {
        var names: [String] = []
        for entry in KnownHostsFiles.entries(in: files, warn: nil, keep: { $0.marker == .none }) {
            guard case .patterns(let patterns) = entry.hosts else { continue }
            for pattern in patterns where !pattern.contains(where: { "*?!".contains($0) }) {
                var name = pattern
                if name.hasPrefix("["), let close = name.firstIndex(of: "]") { name = String(name[name.index(after: name.startIndex)..<close]) }
                if !names.contains(name) { names.append(name) }
            }
        }
        return names
    }
}
