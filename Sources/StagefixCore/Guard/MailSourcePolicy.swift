// Where a host's mailbox may be: `mail reset` writes its mark there and Django-file sources are
// consumed, so a source aimed at another site's folder would change that site.

public enum MailSourcePolicy {
    public static func check(_ source: MailSource, layout: SiteLayout, configured: String?, productionNames: [String], productionSitePaths: [(host: String, path: String)], rules: GuardRules, host: String) throws {
        let folder = RemotePath.normalized(source.folder)
        // Folder names that are host names (site folders are named after their sites).
        for component in folder.split(separator: "/") where component.contains(".") && ProductionGuard.isProductionName(String(component), productionHostNames: productionNames, rules: rules) {
            throw StagefixError.refusedByGuard(["mail: \(source.folder) lies in \(component), a production site's folder; a staging host's mail source never does"])
        }
        if let production = productionSitePaths.first(where: { RemotePath.isInside(folder, folder: $0.path) }) {
            throw StagefixError.refusedByGuard(["mail: \(source.folder) lies in the folder of the production host \(production.host)"])
        }
        let configuredFolder = configured.flatMap { try? MailSource(parsing: $0) }.map { RemotePath.normalized($0.folder) }
        if RemotePath.isInside(folder, folder: layout.projectPath) || configuredFolder.map({ RemotePath.isInside(folder, folder: $0) }) == true {
            return
        }
        throw StagefixError.refusedByGuard([
            "mail: \(source.folder) lies outside the site folder \(layout.projectPath) of \(host); keep the mail source inside it, or name the capture folder as `mail:` for the host in stagefix.yml"
        ])
    }
}
