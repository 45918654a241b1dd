import DesiredState
import Testing

@Suite struct NamingTests {
    @Test func derivedNamesFollowTheDesign() {
        #expect(Naming.functionName("Api") == "ApiFunction")
        #expect(Naming.queueName("AmazonReports", environment: "dev") == "AmazonReportsQDev")
        #expect(Naming.queueName("AmazonReports", environment: "prod", deadLetter: true) == "AmazonReportsDLQProd")
        #expect(Naming.bucketName("dzgro-reports", environment: "staging") == "dzgro-reports-staging")
        #expect(Naming.userPoolName(project: "Dzgro", environment: "prod") == "DzgroUserPoolProd")
        #expect(Naming.stackName(project: "Dzgro", featureSet: "ams") == "Dzgro-ams")
        #expect(Naming.logicalID("dzgro-reports") == "DzgroReports")
        #expect(Naming.logicalID("ANY /api/{proxy+}") == "ANYApiProxy")
        #expect(Naming.roleName("Ams-{region}", region: "eu-west-1") == "Ams-eu-west-1")
    }

    @Test(arguments: [
        ("ApiFunction", true), ("Api-Function_2", true), ("", false), ("Api Function", false), ("Api.Function", false),
        (String(repeating: "a", count: 64), true), (String(repeating: "a", count: 65), false),
    ])
    func functionNames(_ name: String, _ valid: Bool) { #expect(Naming.isFunctionName(name) == valid) }

    @Test(arguments: [
        ("dev", true), ("prod", true), ("123", false), ("dev-1", true), ("$LATEST", false), ("", false),
        (String(repeating: "a", count: 129), false),
    ])
    func aliasNames(_ name: String, _ valid: Bool) { #expect(Naming.isAliasName(name) == valid) }

    @Test(arguments: [("dev", true), ("qa2", true), ("Dev", false), ("2qa", false), ("pre-prod", false), ("abcdefghijklmnopq", false)])
    func environmentNames(_ name: String, _ valid: Bool) { #expect(Naming.isEnvironmentName(name) == valid) }

    @Test(arguments: [
        ("AmazonReportsQDev", true), ("a_b-c", true), ("a.b", false), (String(repeating: "q", count: 80), true),
        (String(repeating: "q", count: 81), false),
    ])
    func queueNames(_ name: String, _ valid: Bool) { #expect(Naming.isQueueName(name) == valid) }

    @Test(
        arguments: [
            ("dzgro-reports-dev", nil), ("ab", "3 to 63"), (String(repeating: "b", count: 64), "3 to 63"), ("Dzgro", "lowercase"),
            ("dzgro_reports", "lowercase"), ("-dzgro", "start and end"), ("dzgro-", "start and end"), ("xn--dzgro", "xn--"),
            ("dzgro-s3alias", "-s3alias"), ("dzgro.reports", "lowercase"),
        ] as [(String, String?)])
    func bucketNames(_ name: String, _ problem: String?) {
        let found = Naming.bucketNameProblem(name)
        if let problem { #expect(found?.contains(problem) == true, "\(name): \(found ?? "accepted")") } else { #expect(found == nil) }
    }

    @Test(arguments: [("DzgroRole", true), ("role+=,.@_-", true), ("role/x", false), (String(repeating: "r", count: 65), false)])
    func roleNames(_ name: String, _ valid: Bool) { #expect(Naming.isRoleName(name) == valid) }

    @Test(arguments: [("Dzgro-core", true), ("1core", false), ("core_x", false)])
    func stackNames(_ name: String, _ valid: Bool) { #expect(Naming.isStackName(name) == valid) }

    @Test(arguments: [("dzgro.com", true), ("api.dev.dzgro.com", true), ("dzgro", false), ("Dzgro.com", false), ("-a.com", false)])
    func domainNames(_ name: String, _ valid: Bool) { #expect(Naming.isDomainName(name) == valid) }

    @Test func derivedCertificates() throws {
        let state = try DesiredStateLoader.loadValid(Fixture.files)
        let certificates = state.certificates
        #expect(certificates.map(\.region) == ["ap-south-1", "us-east-1"])
        #expect(certificates[0].domainName == "api.dzgro.com")
        #expect(certificates[0].subjectAlternativeNames == ["api.dev.dzgro.com", "api.staging.dzgro.com"])
        #expect(certificates[1].domainName == "auth.dzgro.com")
    }
}
