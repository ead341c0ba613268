// Guard decisions from each kind of evidence; any production signal wins, unknown hosts are refused.
import StagefixCore
import Testing

struct ProductionGuardTests {
    let rules = GuardRules(apexDomain: "example.com")

    private func verdict(_ typed: String, hostName: String? = nil, role: HostRole? = nil, production: [String] = []) -> GuardVerdict {
        GuardVerdict(host: typed, reasons: ProductionGuard.nameReasons(
            typedHost: typed, sshHostName: hostName ?? typed, role: role, productionHostNames: production, rules: rules))
    }

    @Test(arguments: ["staging.example.com", "superlists-stage.example.com", "localhost"])
    func allowPatternsLetItConnectButNeverAllowOnTheirOwn(host: String) {
        #expect(verdict(host).namesAllowConnecting)
        #expect(!verdict(host).isAllowed)
        #expect(verdict(host).adding(siteSays(host)).isAllowed)
    }

    /// The site's own env naming the host: the only evidence that can make it staging.
    private func siteSays(_ host: String) -> [GuardReason] {
        ProductionGuard.identityReasons(identity: [("SITENAME", host)], typedHost: host, sshHostName: host, productionHostNames: [], rules: rules)
    }

    @Test(arguments: ["www.example.com", "example.com", "prod-db.example.com", "live.example.com", "production.example.com"])
    func denyPatternsAndTheApexAreProduction(host: String) {
        let result = verdict(host, role: .staging)
        #expect(!result.isAllowed)
        #expect(result.isProduction)
    }

    @Test func anUnknownHostIsRefusedWithTheLineThatWouldMarkIt() {
        let result = verdict("ci-box.example.net")
        #expect(!result.isAllowed)
        #expect(!result.isProduction)
        #expect(result.refusalReasons.first?.contains("ci-box.example.net: { role: staging }") == true)
    }

    @Test func aDeclaredRoleMarksAnOtherwiseUnknownHost() {
        #expect(verdict("ci-box.example.net", role: .staging).namesAllowConnecting)
        #expect(verdict("ci-box.example.net", role: .staging).adding(siteSays("ci-box.example.net")).isAllowed)
        #expect(!verdict("staging.example.com", role: .production).adding(siteSays("staging.example.com")).isAllowed)
    }

    @Test func anAliasWhoseHostNameIsProductionIsRefused() {
        // `Host staging` in ssh_config, but `HostName www.example.com`.
        let result = verdict("staging", hostName: "www.example.com", role: .staging)
        #expect(!result.isAllowed)
        #expect(result.refusalReasons.contains { $0.contains("HostName") && $0.contains("www.example.com") })
    }

    @Test func aHostNameListedAsProductionIsRefused() {
        let result = verdict("staging-alias", hostName: "db1.internal", role: .staging, production: ["db1.internal"])
        #expect(result.isProduction)
    }

    @Test func theSameAddressAndPortAsProductionIsRefused() {
        // The machine serves production: raw commands refuse; a site on it must vouch for itself.
        let reasons = ProductionGuard.addressReasons(targetAddresses: ["10.0.0.5"], port: 22, productionEndpoints: [("www.example.com", ["10.0.0.5"], 22)])
        #expect(reasons.first?.signal == .productionMachine)
        let onShared = verdict("staging.example.com").adding(reasons).adding(siteSays("staging.example.com"))
        #expect(onShared.allows(.site))
        #expect(!onShared.allows(.machine))
        let otherPort = ProductionGuard.addressReasons(targetAddresses: ["10.0.0.5"], port: 2222, productionEndpoints: [("www.example.com", ["10.0.0.5"], 22)])
        #expect(otherPort.first?.signal == .neutral)
    }

    @Test func aProductionHostKeyIsRefused() {
        let keys = ["SHA256:abc": "www.example.com (known_hosts line 3)"]
        #expect(ProductionGuard.hostKeyReasons(fingerprint: "SHA256:abc", productionKeys: keys).first?.signal == .productionMachine)
        #expect(ProductionGuard.hostKeyReasons(fingerprint: "SHA256:xyz", productionKeys: keys).first?.signal == .neutral)
    }

    @Test func theServersOwnIdentityMustBeTheHostAskedFor() {
        let mine = ProductionGuard.identityReasons(identity: [("SITENAME", "staging.example.com")], typedHost: "staging.example.com", sshHostName: "10.0.0.9", productionHostNames: [], rules: rules)
        #expect(!mine.contains { $0.signal == .production })
        let other = ProductionGuard.identityReasons(identity: [("SITENAME", "staging2.example.com")], typedHost: "staging.example.com", sshHostName: "10.0.0.9", productionHostNames: [], rules: rules)
        #expect(other.contains { $0.signal == .production && $0.detail.contains("another host") })
        let production = ProductionGuard.identityReasons(identity: [("ALLOWED_HOSTS", "staging.example.com,www.example.com")], typedHost: "staging.example.com", sshHostName: "staging.example.com", productionHostNames: [], rules: rules)
        #expect(production.contains { $0.signal == .production && $0.detail.contains("www.example.com") })
    }

    @Test func anAliasWhoseSiteURLTheServerNamesIsTheHostAskedForAndNoOtherNameIs() {
        // `staging` is an ssh_config alias to an address; stagefix.yml says its site is staging.example.com.
        let named = ProductionGuard.identityReasons(identity: [("SITENAME", "staging.example.com")], typedHost: "staging", sshHostName: "10.0.0.9", siteName: "staging.example.com", productionHostNames: [], rules: rules)
        #expect(named.contains { $0.signal == .staging } && !named.contains { $0.signal == .production })
        let withoutSiteURL = ProductionGuard.identityReasons(identity: [("SITENAME", "staging.example.com")], typedHost: "staging", sshHostName: "10.0.0.9", productionHostNames: [], rules: rules)
        #expect(withoutSiteURL.contains { $0.signal == .production && $0.detail.contains("another host") })
        let elsewhere = ProductionGuard.identityReasons(identity: [("SITENAME", "www.example.com")], typedHost: "staging", sshHostName: "10.0.0.9", siteName: "staging.example.com", productionHostNames: [], rules: rules)
        #expect(elsewhere.contains { $0.signal == .production })
    }

    @Test func anyProductionSignalWinsOverStagingSignals() {
        let result = verdict("staging.example.com", role: .staging).adding(siteSays("staging.example.com"))
            .adding([GuardReason(.production, "identity", "the server's ALLOWED_HOSTS names www.example.com, a production host")])
        #expect(!result.isAllowed)
        #expect(!result.allows(.machine))
    }

    @Test(arguments: [("*prod*", "www.PROD.example.com", true), ("www.*", "www.example.com", true), ("www.*", "wwwx.example.com", false), ("?ive", "live", true), ("*", "", true), ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false)])
    func hostPatternsGlobCaseInsensitively(pattern: String, name: String, expected: Bool) {
        #expect(HostPattern(pattern).matches(name) == expected)
    }
}

struct HostedSiteEvidenceTests {
    let rules = GuardRules(apexDomain: "example.com")

    @Test func aServerHostingAProductionSiteIsProduction() {
        let reasons = ProductionGuard.hostedSiteReasons(siteNames: ["staging.example.com", "www.example.com"], folder: "~/sites", productionHostNames: [], rules: rules)
        #expect(reasons.count == 1)
        #expect(reasons[0].signal == .production)
        #expect(reasons[0].detail.contains("~/sites/www.example.com"))
    }

    @Test(arguments: [["example.com"], ["shop-prod"], ["superlists.io"]])
    func apexDenyPatternsAndDeclaredNamesCount(names: [String]) {
        let reasons = ProductionGuard.hostedSiteReasons(siteNames: names, folder: "~/sites", productionHostNames: ["superlists.io"], rules: rules)
        #expect(reasons.allSatisfy { $0.signal == .production })
    }

    @Test func onlyStagingSitesGiveNoSignal() {
        let reasons = ProductionGuard.hostedSiteReasons(siteNames: ["staging.example.com"], folder: "~/sites", productionHostNames: [], rules: rules)
        #expect(reasons.map(\.signal) == [.neutral])
    }
}

/// The decision on gathered evidence: the site acted on must say it is staging.
struct SiteEvidenceTests {
    let rules = GuardRules(apexDomain: "example.com")

    private func staging(_ host: String = "staging.example.com") -> GuardVerdict {
        GuardVerdict(host: host, reasons: ProductionGuard.nameReasons(typedHost: host, sshHostName: host, role: nil, productionHostNames: [], rules: rules))
    }

    @Test func aMistypedIdentityKeyNamesNothingAndAwaitsTheSite() {
        // `identity_keys: [SITE_NAME]` where the env has SITENAME: no identity at all.
        let result = staging().adding(ProductionGuard.identityReasons(identity: [], typedHost: "staging.example.com", sshHostName: "staging.example.com", productionHostNames: [], rules: rules))
        #expect(!result.isAllowed)
        #expect(result.awaitsSiteConfirmation)
        #expect(result.refusalReasons.first?.contains("db mark staging.example.com staging") == true)
        // Its database's staging marker vouches for the site, never for a shell.
        let marked = result.adding([GuardReason(.staging, "database marker", "the site's database db is marked staging")])
        #expect(marked.allows(.site))
        #expect(!marked.allows(.machine))
    }

    @Test(arguments: [
        ("~/sites/www.example.com", ".env"),          // production's folder under a staging name
        ("~/sites/staging.example.com", "../www.example.com/.env"),  // staging's folder, production's env
        ("~/sites/staging.example.com", "/etc/staging.env"),         // env outside the site
        ("/srv/shop-prod", ".env"),
    ])
    func aSiteThatIsNotPlainlyTheStagingSiteRefuses(path: String, envFile: String) {
        let layout = SiteLayout(projectPath: path, envFile: envFile)
        let reasons = ProductionGuard.siteReasons(layout: layout, productionSitePaths: [], productionHostNames: [], rules: rules)
        #expect(reasons.contains { $0.signal == .production && $0.evidence == "site" }, "\(path) \(envFile)")
        #expect(reasons.allSatisfy { $0.fix != nil })
    }

    @Test func aProductionHostsOwnSiteFolderRefusesWhateverItIsCalled() {
        let layout = SiteLayout(projectPath: "~/sites/../sites/superlists")
        let reasons = ProductionGuard.siteReasons(layout: layout, productionSitePaths: [("superlists.io", "~/sites/superlists")], productionHostNames: ["superlists.io"], rules: rules)
        #expect(reasons.contains { $0.detail.contains("superlists.io") })
        #expect(ProductionGuard.siteReasons(layout: SiteLayout(projectPath: "~/sites/staging.example.com"), productionSitePaths: [], productionHostNames: [], rules: rules).isEmpty)
    }

    @Test func anAddressTheSiteAnswersOnDoesNotVouch() {
        // Every site of a machine may list its address in ALLOWED_HOSTS.
        let reasons = ProductionGuard.identityReasons(identity: [("ALLOWED_HOSTS", "10.0.0.9")], typedHost: "staging.example.com", sshHostName: "10.0.0.9", productionHostNames: [], rules: rules)
        #expect(reasons.map(\.signal) == [.neutral])
    }

    @Test func wildcardsNeitherVouchNorRefuse() {
        let reasons = ProductionGuard.identityReasons(identity: [("DJANGO_ALLOWED_HOSTS", "*")], typedHost: "staging.example.com", sshHostName: "staging.example.com", productionHostNames: [], rules: rules)
        #expect(reasons.map(\.signal) == [.neutral])
    }

    @Test func theThirdEditionsDjangoAllowedHostIsADefaultIdentityKey() {
        #expect(GuardRules().identityKeys.contains("DJANGO_ALLOWED_HOST"))
        #expect(GuardRules().identityKeys.contains("SITENAME"))
    }

    @Test func aMachineThatServesAProductionSiteRefusesRawCommands() {
        let sites = [HostedSite(name: "superlists", identity: [("DJANGO_ALLOWED_HOST", "www.example.com")]), HostedSite(name: "notes.example.org")]
        let reasons = ProductionGuard.machineReasons(sites: sites, folder: "~/sites", productionHostNames: [], rules: rules)
        #expect(reasons.map(\.signal) == [.productionMachine])
        #expect(reasons[0].detail.contains("superlists"))
        let byName = ProductionGuard.machineReasons(sites: [HostedSite(name: "www.example.com")], folder: "~/sites", productionHostNames: [], rules: rules)
        #expect(byName.first?.signal == .productionMachine)
        let onlyStaging = ProductionGuard.machineReasons(sites: [HostedSite(name: "staging2.example.com")], folder: "~/sites", productionHostNames: [], rules: rules)
        #expect(onlyStaging.map(\.signal) == [.neutral])
    }

    @Test func theSocketsRealAddressIsJudgedNotASecondLookup() {
        // Planned: staging's address; connected: production's (a name that resolves differently twice).
        let endpoints = [(name: "www.example.com", addresses: ["10.0.0.5"], port: 22)]
        let planned = ProductionGuard.addressReasons(targetAddresses: ["10.0.0.9"], port: 22, productionEndpoints: endpoints)
        let connected = ProductionGuard.addressReasons(targetAddresses: ["10.0.0.5"], port: 22, productionEndpoints: endpoints)
        #expect(planned.map(\.signal) == [.neutral])
        let result = staging().adding(planned).adding(connected).adding(ProductionGuard.identityReasons(identity: [("SITENAME", "staging.example.com")], typedHost: "staging.example.com", sshHostName: "staging.example.com", productionHostNames: [], rules: rules))
        #expect(!result.allows(.machine))
    }

    @Test func aDatabaseNamedAfterProductionRefuses() {
        #expect(ProductionGuard.databaseReasons(description: "/home/u/sites/www.example.com/db.sqlite3", productionHostNames: [], rules: rules).first?.signal == .production)
        #expect(ProductionGuard.databaseReasons(description: "staging on db.internal", productionHostNames: [], rules: rules).first?.signal == .neutral)
    }

    @Test(arguments: [("~/sites/x/../y", "~/sites/y"), ("sites/x", "~/sites/x"), ("/a//b/./c/", "/a/b/c"), ("~/..", "~"), ("/..", "/")])
    func remotePathsNormalise(path: String, expected: String) {
        #expect(RemotePath.normalized(path) == expected)
    }

    @Test func markingStagingNeedsIdentityOrAMachineWithoutProduction() {
        let unnamed = staging().adding(ProductionGuard.identityReasons(identity: [], typedHost: "staging.example.com", sshHostName: "staging.example.com", productionHostNames: [], rules: rules))
        #expect(unnamed.allows(.markingStaging))
        let shared = unnamed.adding(ProductionGuard.machineReasons(sites: [HostedSite(name: "www.example.com")], folder: "~/sites", productionHostNames: [], rules: rules))
        #expect(!shared.allows(.markingStaging))
        #expect(shared.adding(ProductionGuard.identityReasons(identity: [("SITENAME", "staging.example.com")], typedHost: "staging.example.com", sshHostName: "staging.example.com", productionHostNames: [], rules: rules)).allows(.markingStaging))
    }
}

struct MailSourcePolicyTests {
    let rules = GuardRules(apexDomain: "example.com")
    let layout = SiteLayout(projectPath: "~/sites/staging.example.com")

    private func check(_ text: String, configured: String? = nil) -> Bool {
        (try? MailSourcePolicy.check(try MailSource(parsing: text), layout: layout, configured: configured, productionNames: [], productionSitePaths: [], rules: rules, host: "staging.example.com")) != nil
    }

    @Test func insideTheSiteOrTheConfiguredCaptureFolderOnly() {
        #expect(check("django-files:~/sites/staging.example.com/sent_emails"))
        #expect(check("maildir:/var/mail/capture/new", configured: "maildir:/var/mail/capture"))
        #expect(!check("maildir:/var/mail/capture"))
        #expect(!check("django-files:~/sites/www.example.com/sent_emails"))
        #expect(!check("django-files:~/sites/staging.example.com/../www.example.com/sent_emails"))
        #expect(!check("maildir:~/sites/www.example.com/mail", configured: "maildir:~/sites/www.example.com/mail"))
    }

    @Test func anAbsolutePathAndATildePathOfTheSameFolderAgree() throws {
        let source = try MailSource(parsing: "django-files:/home/edith/sites/staging.example.com/sent_emails")
        try MailSourcePolicy.check(source, layout: layout, configured: nil, productionNames: [], productionSitePaths: [], rules: rules, host: "staging.example.com", home: "/home/edith")
        #expect(throws: StagefixError.self) {
            try MailSourcePolicy.check(source, layout: layout, configured: nil, productionNames: [], productionSitePaths: [], rules: rules, host: "staging.example.com", home: "/home/other")
        }
    }
}
