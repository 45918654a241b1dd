import AWSClient
import EmulatorHarness
import Foundation
import SigV4
import Testing

/// Every operation against moto with signature checking on, in two regions.
/// One emulator for the suite (it starts in about a second); state is per region.
@Suite(.serialized) struct MotoOperationTests {
    static let regions = ["eu-west-1", "ap-south-1"]

    /// A minimal deployable Lambda zip (one stored file).
    static func zip(_ source: String) -> [UInt8] {
        // Built by hand: a local file header, the data, a central directory, an end record.
        let name = Array("handler.py".utf8), data = Array(source.utf8)
        let crc = crc32(data)
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xff) } }
        let local =
            [0x50, 0x4b, 0x03, 0x04] + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc)
            + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(name.count) + le16(0) + name + data
        let central =
            [0x50, 0x4b, 0x01, 0x02] + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc)
            + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(name.count) + le16(0) + le16(0) + le16(0) + le16(0)
            + le32(0) + le32(0) + name
        let end = [0x50, 0x4b, 0x05, 0x06] + le16(0) + le16(0) + le16(1) + le16(1) + le32(UInt32(central.count)) + le32(UInt32(local.count)) + le16(0)
        return local + central + end
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func expectError(_ code: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \(code)")
        } catch let error as AWSError {
            #expect(error.code == code, "\(error)")
            #expect(!error.isAuthentication, "\(error)")
        } catch {
            Issue.record("not an AWSError: \(error)")
        }
    }

    @Test func everyOperationInTwoRegions() async throws {
        let moto = try await Moto.start()
        defer { moto.stop() }
        let client = moto.client()
        for region in Self.regions {
            try await sts(client, region, moto)
            try await lambda(client, region, moto)
            try await layers(client, region)
            try await cloudFormation(client, region)
            try await s3(client, region)
            try await acm(client, region)
            try await cognito(client, region)
            try await ses(client, region, moto)
            try await sqs(client, region)
            try await apiGateway(client, region)
        }
    }

    func sts(_ client: AWSClient, _ region: String, _ moto: Moto) async throws {
        let identity = try await STSClient(client, region: region).getCallerIdentity()
        #expect(identity.account == moto.account)
        #expect(identity.arn.hasSuffix("user/reconciler-test"))
    }

    func lambda(_ client: AWSClient, _ region: String, _ moto: Moto) async throws {
        let lambda = LambdaClient(client, region: region)
        await Self.expectError("ResourceNotFoundException") { _ = try await lambda.getFunction("ApiFunction") }
        let created = try await lambda.createFunction(
            name: "ApiFunction", runtime: "python3.12", role: moto.roleArn, handler: "handler.handler",
            zip: Self.zip("def handler(event, context):\n    return 1\n"))
        #expect(created.FunctionArn.contains(":\(region):"))
        let info = try await lambda.getFunction("ApiFunction")
        #expect(info.Configuration.FunctionName == "ApiFunction")
        let v1 = try await lambda.publishVersion("ApiFunction", description: "first")
        #expect(v1.Version == "1")
        let versions = try await lambda.listVersionsByFunction("ApiFunction", pageSize: 1)
        #expect(versions.map(\.Version).contains("1"))
        #expect(versions.contains { $0.Version == "$LATEST" })

        let alias = try await lambda.createAlias("ApiFunction", name: "prod", version: "1", description: "release pointer")
        #expect(alias.FunctionVersion == "1")
        let read = try await lambda.getAlias("ApiFunction", alias: "prod")
        #expect(read.RevisionId != nil)
        let moved = try await lambda.updateAlias(
            "ApiFunction", name: "prod", version: "1", revisionID: read.RevisionId,
            routing: .init(["1": 0.0]))
        #expect(moved.alias.FunctionVersion == "1")
        #expect(moved.requestID != nil)
        // (moto does not check RevisionId; ProtocolTests checks that it is sent.)
        let aliases = try await lambda.listAliases("ApiFunction")
        #expect(aliases.map(\.Name) == ["prod"])
        await Self.expectError("ResourceNotFoundException") { _ = try await lambda.getAlias("ApiFunction", alias: "staging") }
        await Self.expectError("ResourceNotFoundException") { _ = try await lambda.getPolicy("ApiFunction", qualifier: "prod") }
    }

    func layers(_ client: AWSClient, _ region: String) async throws {
        let lambda = LambdaClient(client, region: region)
        for index in 1...5 {
            let published = try await lambda.publishLayerVersion(
                "Dzgro-common", zip: Self.zip("# layer \(index)\n"), runtimes: ["python3.12"],
                description: "sha256:\(index)")
            #expect(published.Version == index)
        }
        // Pagination over more items than one page.
        let listed = try await lambda.listLayerVersions("Dzgro-common", pageSize: 2)
        #expect(listed.map(\.Version).sorted() == [1, 2, 3, 4, 5])
        try await lambda.deleteLayerVersion("Dzgro-common", version: 1)
        #expect(try await lambda.listLayerVersions("Dzgro-common").map(\.Version).sorted() == [2, 3, 4, 5])
    }

    func cloudFormation(_ client: AWSClient, _ region: String) async throws {
        let cfn = CloudFormationClient(client, region: region)
        // AWS answers ValidationError "Stack with id … does not exist"; moto answers an empty list.
        do { #expect(try await cfn.describeStacks("Dzgro-ams").isEmpty) } catch let error as AWSError { #expect(error.isNotFound, "\(error)") }
        let template = """
            AWSTemplateFormatVersion: "2010-09-09"
            Parameters:
              Suffix: {Type: String}
            Resources:
              Queue:
                Type: AWS::SQS::Queue
                Properties:
                  QueueName: !Sub "AmsChangeQ${Suffix}"
            Outputs:
              QueueUrl: {Value: !Ref Queue}
            """
        let (changeSetID, stackID) = try await cfn.createChangeSet(
            stack: "Dzgro-ams", name: "c1", template: .body(template),
            parameters: ["Suffix": "Dev"], tags: ["Project": "Dzgro"], create: true)
        #expect(!changeSetID.isEmpty && stackID.contains(region))
        let described = try await cfn.describeChangeSet(stack: "Dzgro-ams", name: "c1")
        #expect(described.status == "CREATE_COMPLETE")
        #expect(described.changes.map(\.logicalID) == ["Queue"])
        try await cfn.executeChangeSet(stack: "Dzgro-ams", name: "c1")
        let stack = try #require(try await cfn.describeStacks("Dzgro-ams").first)
        #expect(stack.status == "CREATE_COMPLETE")
        // (moto fills no Outputs for stacks made from change sets; ProtocolTests reads them.)
        #expect(stack.tags["Project"] == "Dzgro")
        #expect(stack.parameters["Suffix"] == "Dev")
        #expect(try await cfn.describeStacks().contains { $0.name == "Dzgro-ams" })
        let events = try await cfn.describeStackEvents("Dzgro-ams")
        #expect(events.first?.status == "CREATE_COMPLETE")
        #expect(events.map(\.status).contains("REVIEW_IN_PROGRESS"))
        let resources = try await cfn.listStackResources("Dzgro-ams")
        #expect(resources.map(\.type) == ["AWS::SQS::Queue"])
        #expect(try await cfn.getTemplate("Dzgro-ams").contains("AWS::SQS::Queue"))

        _ = try await cfn.createChangeSet(stack: "Dzgro-ams", name: "c2", template: .body(template), parameters: ["Suffix": "Prod"], create: false)
        try await cfn.deleteChangeSet(stack: "Dzgro-ams", name: "c2")
        // AWS answers ChangeSetNotFound, moto ValidationError.
        do {
            _ = try await cfn.describeChangeSet(stack: "Dzgro-ams", name: "c2")
            Issue.record("a deleted change set is still described")
        } catch let error as AWSError {
            #expect(["ChangeSetNotFound", "ValidationError"].contains(error.code), "\(error)")
        }

        // moto does not implement drift detection or ContinueUpdateRollback: the calls are signed
        // and sent, and its refusal still arrives as a typed, non-authentication error.
        for call in [
            { _ = try await cfn.detectStackDrift("Dzgro-ams") },
            { _ = try await cfn.describeStackDriftDetectionStatus("id") },
            { _ = try await cfn.describeStackResourceDrifts("Dzgro-ams") },
            { try await cfn.continueUpdateRollback("Dzgro-ams") },
        ] as [() async throws -> Void] {
            do { try await call() } catch let error as AWSError { #expect(!error.isAuthentication, "\(error)") }
        }
    }

    func s3(_ client: AWSClient, _ region: String) async throws {
        let s3 = S3Client(client, region: region)
        let bucket = "dzgro-artifacts-\(region)"
        #expect(try await s3.headBucket(bucket) == false)
        try await s3.createBucket(bucket)
        #expect(try await s3.headBucket(bucket))
        try await s3.putBucketVersioning(bucket, enabled: true)
        try await s3.putPublicAccessBlock(bucket)
        #expect(try await s3.headObject(bucket, key: "functions/Api/none.zip") == nil)
        // A multi-megabyte body, content-addressed key with slashes.
        let body = (0..<(6 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let key = "functions/Api/\(SigV4.hexSHA256(body)).zip"
        let etag = try await s3.putObject(bucket, key: key, body: body, metadata: ["sha256": SigV4.hexSHA256(body)])
        #expect(etag != nil)
        let head = try #require(try await s3.headObject(bucket, key: key))
        #expect(head.size == body.count)
        #expect(head.metadata["sha256"] == SigV4.hexSHA256(body))
        await Self.expectError("NoSuchBucket") { _ = try await s3.putObject("no-such-bucket-\(region)", key: "k", body: [1]) }
    }

    func acm(_ client: AWSClient, _ region: String) async throws {
        let acm = ACMClient(client, region: region)
        let arn = try await acm.requestCertificate(domain: "api.dzgro.com", alternativeNames: ["api.dev.dzgro.com", "api.prod.dzgro.com"])
        let certificate = try await acm.describeCertificate(arn)
        #expect(certificate.DomainName == "api.dzgro.com")
        #expect(["PENDING_VALIDATION", "ISSUED"].contains(certificate.Status))
        #expect(certificate.DomainValidationOptions?.first?.ResourceRecord?.Type == "CNAME")
        #expect(try await acm.listCertificates().map(\.CertificateArn).contains(arn))
        await Self.expectError("ResourceNotFoundException") {
            _ = try await acm.describeCertificate("arn:aws:acm:\(region):123456789012:certificate/00000000-0000-0000-0000-000000000000")
        }
    }

    func cognito(_ client: AWSClient, _ region: String) async throws {
        let cognito = CognitoClient(client, region: region)
        let pool = try await cognito.createUserPool("DzgroUserPoolDev")
        #expect(try await cognito.listUserPools(pageSize: 1).map(\.Name).contains("DzgroUserPoolDev"))
        #expect(try await cognito.describeUserPoolDomain("auth-dev-\(region)") == nil)
        _ = try await cognito.createUserPoolDomain("auth-dev-\(region)", userPoolID: pool.Id, certificateArn: nil)
        let domain = try #require(try await cognito.describeUserPoolDomain("auth-dev-\(region)"))
        #expect(domain.UserPoolId == pool.Id)
        await Self.expectError("ResourceNotFoundException") {
            _ = try await cognito.createUserPoolDomain("auth-x-\(region)", userPoolID: "\(region)_nope", certificateArn: nil)
        }
    }

    func ses(_ client: AWSClient, _ region: String, _ moto: Moto) async throws {
        let ses = SESClient(client, region: region)
        await Self.expectError("MessageRejected") {
            _ = try await ses.sendEmail(from: "unverified@dzgro.com", to: ["releases@dzgro.com"], subject: "s", text: "t")
        }
        try await ses.verifyEmailIdentity("reconciler@dzgro.com")
        let sent = try await ses.sendEmail(from: "reconciler@dzgro.com", to: ["releases@dzgro.com"], subject: "Release \(region)", text: "body")
        #expect(!sent.messageID.isEmpty)
        #expect(sent.requestID != nil)
        let mail = try await moto.sentEmails().filter { $0.subject == "Release \(region)" }
        #expect(mail.count == 1)
        #expect(mail.first?.destinations == ["releases@dzgro.com"])
        #expect(mail.first?.body == "body")
    }

    func sqs(_ client: AWSClient, _ region: String) async throws {
        let sqs = SQSClient(client, region: region)
        await Self.expectError("QueueDoesNotExist") { _ = try await sqs.getQueueURL("AmazonReportsQLocal") }
        let url = try await sqs.createQueue("AmazonReportsQLocal", attributes: ["VisibilityTimeout": "900"], tags: ["Project": "Dzgro"])
        #expect(try await sqs.getQueueURL("AmazonReportsQLocal") == url)
        #expect(try await sqs.listQueues(prefix: "AmazonReports") == [url])
        #expect(try await sqs.listQueues(prefix: "NoSuchPrefix").isEmpty)
        try await sqs.tagQueue(url, tags: ["Environment": "local"])
        let attributes = try await sqs.getQueueAttributes(url)
        #expect(attributes["VisibilityTimeout"] == "900")
        #expect(attributes["QueueArn"]?.contains(region) == true)
    }

    func apiGateway(_ client: AWSClient, _ region: String) async throws {
        let api = APIGatewayV2Client(client, region: region)
        #expect(try await api.getAPIs().isEmpty)
        let created = try await api.createAPI(name: "DzgroHttpApi")
        for stage in ["dev", "staging", "prod"] { _ = try await api.createStage(apiID: created.apiId, name: stage, variables: ["LambdaAlias": stage]) }
        #expect(try await api.getAPIs().map(\.name) == ["DzgroHttpApi"])
        let stages = try await api.getStages(apiID: created.apiId)
        #expect(Set(stages.map(\.stageName)) == ["dev", "staging", "prod"])
        #expect(stages.allSatisfy { $0.stageVariables?["LambdaAlias"] == $0.stageName })
        await Self.expectError("NotFoundException") { _ = try await api.getStages(apiID: "nope") }
    }

    @Test func aWrongSecretNamesTheLikelyCause() async throws {
        let moto = try await Moto.start()
        defer { moto.stop() }
        var wrong = moto.credentials
        wrong.secretAccessKey = "not-the-secret"
        do {
            _ = try await STSClient(moto.client(credentials: wrong), region: "eu-west-1").getCallerIdentity()
            Issue.record("a wrong secret was accepted")
        } catch let error as AWSError {
            #expect(error.isAuthentication)
            #expect(error.status == 403)
            let text = "\(error)"
            #expect(text.contains("secret access key does not match access key \(Redaction.keyID(wrong.accessKeyID))"), "\(text)")
            #expect(!text.contains(wrong.accessKeyID))
            #expect(text.contains("moto test key"))
            #expect(!text.contains("not-the-secret"))
        }
    }
}
