// Where a host's mailbox may be: `mail reset` writes its mark there and Django-file sources are
// consumed, so a source aimed at another site's folder would change that site.

public enum MailSourcePolicy {
    /// `home` is the login user's folder on the server, so `~/x` and `/home/u/x` compare alike.
    public static func check(_ source: MailSource, layout: SiteLayout, configured: String?, productionNames: [String], productionSitePaths: [(host: String, path: String)], rules: GuardRules, host: String, home: String = "~") throws {
        func resolved(_ path: String) -> String { RemotePath.absolute(path, home: home) }
        let folder = resolved(source.folder)
        // Folder names that are host names (site folders are named after their sites).
        for component in folder.split(separator: "/") where component.contains(".") && ProductionGuard.isProductionName(String(component), productionHostNames: productionNames, rules: rules) {
            throw StagefixError.refusedByGuard(["mail: \(source.folder) lies in \(component), a production site's folder; a staging host's mail source never does"])
        }
        if let production = productionSitePaths.first(where: { RemotePath.isInside(folder, folder: resolved($0.path)) }) {
            throw StagefixError.refusedByGuard(["mail: \(source.folder) lies in the folder of the production host \(production.host)"])
        }
        let configuredFolder = configured.flatMap { try? MailSource(parsing: $0) }.map { resolved($0.folder) }
        if RemotePath.isInside(folder, folder: resolved(layout.projectPath)) || configuredFolder.map({ RemotePath.isInside(folder, folder: $0) }) == true {
            return
        }
        throw StagefixError.refusedByGuard([
            "mail: \(source.folder) lies outside the site folder \(layout.projectPath) of \(host); keep the mail source inside it, or name the capture folder as `mail:` for the host in stagefix.yml"
        ])
    }
}
