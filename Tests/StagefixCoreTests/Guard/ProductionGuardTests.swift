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
    func allowPatternsMarkStaging(host: String) {
        #expect(verdict(host).isAllowed)
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
        #expect(verdict("ci-box.example.net", role: .staging).isAllowed)
        #expect(!verdict("staging.example.com", role: .production).isAllowed)
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
        let reasons = ProductionGuard.addressReasons(targetAddresses: ["10.0.0.5"], port: 22, productionEndpoints: [("www.example.com", ["10.0.0.5"], 22)])
        #expect(reasons.first?.signal == .production)
        let otherPort = ProductionGuard.addressReasons(targetAddresses: ["10.0.0.5"], port: 2222, productionEndpoints: [("www.example.com", ["10.0.0.5"], 22)])
        #expect(otherPort.first?.signal == .neutral)
    }

    @Test func aProductionHostKeyIsRefused() {
        let keys = ["SHA256:abc": "www.example.com (known_hosts line 3)"]
        #expect(ProductionGuard.hostKeyReasons(fingerprint: "SHA256:abc", productionKeys: keys).first?.signal == .production)
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

    @Test func anyProductionSignalWinsOverStagingSignals() {
        let result = verdict("staging.example.com", role: .staging)
            .adding(ProductionGuard.hostKeyReasons(fingerprint: "SHA256:abc", productionKeys: ["SHA256:abc": "www"]))
        #expect(!result.isAllowed)
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
