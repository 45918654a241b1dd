import EmulatorHarness
import Foundation
import SigV4
import Testing

@testable import AWSClient

/// Request encoding and response/error decoding of each wire protocol, on recorded shapes.
@Suite struct ProtocolTests {
    func header(_ request: HTTPRequest, _ name: String) -> String? { request.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    @Test func queryEncodesAFormAndDecodesTheResult() async throws {
        let transport = ScriptedTransport([
            .status(
                200,
                """
                <DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>
                <StackName>Dzgro-core</StackName><StackId>arn:aws:cloudformation:ap-south-1:1:stack/Dzgro-core/x</StackId>
                <StackStatus>UPDATE_ROLLBACK_FAILED</StackStatus><StackStatusReason>Resource failed</StackStatusReason>
                <LastUpdatedTime>2026-11-01T10:00:00Z</LastUpdatedTime>
                <Outputs><member><OutputKey>HttpApiId</OutputKey><OutputValue>abc123</OutputValue></member></Outputs>
                <Tags><member><Key>reconciler:template-sha256</Key><Value>f00d</Value></member></Tags>
                <Parameters><member><ParameterKey>ArtifactBucket</ParameterKey><ParameterValue>b</ParameterValue></member></Parameters>
                </member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeStacksResponse>
                """)
        ])
        let stacks = try await CloudFormationClient(scriptedClient(transport), region: "ap-south-1").describeStacks("Dzgro core")
        #expect(
            stacks == [
                CloudFormationClient.Stack(
                    stackID: "arn:aws:cloudformation:ap-south-1:1:stack/Dzgro-core/x", name: "Dzgro-core",
                    status: "UPDATE_ROLLBACK_FAILED", statusReason: "Resource failed", lastUpdated: "2026-11-01T10:00:00Z",
                    creationTime: nil, outputs: ["HttpApiId": "abc123"], tags: ["reconciler:template-sha256": "f00d"],
                    parameters: ["ArtifactBucket": "b"])
            ])
        let request = try #require(await transport.sent.first)
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "https://cloudformation.ap-south-1.amazonaws.com/")
        #expect(String(decoding: request.body, as: UTF8.self) == "Action=DescribeStacks&Version=2010-05-15&StackName=Dzgro+core")
        #expect(header(request, "Content-Type") == "application/x-www-form-urlencoded; charset=utf-8")
        #expect(
            header(request, "Authorization")?.hasPrefix(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/ap-south-1/cloudformation/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                    + "Signature="
            ) == true)
    }

    @Test func queryErrorsAreTyped() async throws {
        let transport = ScriptedTransport([
            .status(
                400,
                """
                <ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code>
                <Message>Stack with id Dzgro-core does not exist</Message></Error><RequestId>req-2</RequestId></ErrorResponse>
                """)
        ])
        await #expect {
            _ = try await CloudFormationClient(scriptedClient(transport), region: "ap-south-1").describeStacks("Dzgro-core")
        } throws: { error in
            guard let error = error as? AWSError else { return false }
            return error.code == "ValidationError" && error.message == "Stack with id Dzgro-core does not exist" && error.status == 400
                && error.requestID == "req-2" && error.isNotFound && error.service == "cloudformation" && error.operation == "DescribeStacks"
        }
    }

    @Test func driftOperationsDecode() async throws {
        let transport = ScriptedTransport([
            .status(
                200,
                "<DetectStackDriftResponse><DetectStackDriftResult><StackDriftDetectionId>d-1</StackDriftDetectionId></DetectStackDriftResult>"
                    + "</DetectStackDriftResponse>"
            ),
            .status(
                200,
                """
                <DescribeStackDriftDetectionStatusResponse><DescribeStackDriftDetectionStatusResult><DetectionStatus>DETECTION_COMPLETE</DetectionStatus>
                <StackDriftStatus>DRIFTED</StackDriftStatus></DescribeStackDriftDetectionStatusResult></DescribeStackDriftDetectionStatusResponse>
                """),
            .status(
                200,
                """
                <DescribeStackResourceDriftsResponse><DescribeStackResourceDriftsResult><StackResourceDrifts><member>
                <LogicalResourceId>ApiFunctionAliasProd</LogicalResourceId><ResourceType>AWS::Lambda::Alias</ResourceType>
                <StackResourceDriftStatus>MODIFIED</StackResourceDriftStatus><PropertyDifferences><member><PropertyPath>/FunctionVersion</PropertyPath>
                <DifferenceType>NOT_EQUAL</DifferenceType></member></PropertyDifferences></member></StackResourceDrifts><NextToken>t2</NextToken>
                </DescribeStackResourceDriftsResult></DescribeStackResourceDriftsResponse>
                """),
            .status(
                200,
                "<DescribeStackResourceDriftsResponse><DescribeStackResourceDriftsResult><StackResourceDrifts/></DescribeStackResourceDriftsResult>"
                    + "</DescribeStackResourceDriftsResponse>"
            ),
            .status(200, "<ContinueUpdateRollbackResponse><ContinueUpdateRollbackResult/></ContinueUpdateRollbackResponse>"),
        ])
        let cfn = CloudFormationClient(scriptedClient(transport), region: "eu-west-1")
        #expect(try await cfn.detectStackDrift("Dzgro-ams") == "d-1")
        let status = try await cfn.describeStackDriftDetectionStatus("d-1")
        #expect(status.status == "DETECTION_COMPLETE" && status.driftStatus == "DRIFTED")
        let drifts = try await cfn.describeStackResourceDrifts("Dzgro-ams")
        #expect(
            drifts == [.init(logicalID: "ApiFunctionAliasProd", type: "AWS::Lambda::Alias", status: "MODIFIED", differences: ["/FunctionVersion: NOT_EQUAL"])])
        try await cfn.continueUpdateRollback("Dzgro-ams", skip: ["ApiFunction"])
        let sent = await transport.sent.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(sent[3].contains("NextToken=t2"))
        #expect(sent[4] == "Action=ContinueUpdateRollback&Version=2010-05-15&StackName=Dzgro-ams&ResourcesToSkip.member.1=ApiFunction")
    }

    @Test func jsonProtocolSendsTheTargetAndDecodes() async throws {
        let transport = ScriptedTransport([
            .status(
                200,
                """
                {"Certificate":{"CertificateArn":"arn:c","DomainName":"api.dzgro.com","Status":"PENDING_VALIDATION","NotAfter":1.7E9,
                 "DomainValidationOptions":[{"DomainName":"api.dzgro.com","ValidationStatus":"PENDING_VALIDATION",
                 "ResourceRecord":{"Name":"_x.api.dzgro.com.","Type":"CNAME","Value":"_y.acm-validations.aws."}}]}}
                """)
        ])
        let certificate = try await ACMClient(scriptedClient(transport), region: "us-east-1").describeCertificate("arn:c")
        #expect(certificate.Status == "PENDING_VALIDATION")
        #expect(certificate.DomainValidationOptions?.first?.ResourceRecord?.Value == "_y.acm-validations.aws.")
        let request = try #require(await transport.sent.first)
        #expect(header(request, "X-Amz-Target") == "CertificateManager.DescribeCertificate")
        #expect(header(request, "Content-Type") == "application/x-amz-json-1.1")
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"CertificateArn":"arn:c"}"#)
        #expect(header(request, "Authorization")?.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target") == true)
    }

    @Test func jsonErrorsAreTyped() async throws {
        let transport = ScriptedTransport([
            .status(400, #"{"__type":"com.amazonaws.acm#ResourceNotFoundException","message":"Could not find certificate arn:c."}"#),
            .status(
                400, #"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
                headers: ["x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender", "x-amzn-RequestId": "sqs-1"]),
        ])
        let client = scriptedClient(transport)
        do { _ = try await ACMClient(client, region: "us-east-1").describeCertificate("arn:c"); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "ResourceNotFoundException" && error.message == "Could not find certificate arn:c." && error.isNotFound)
        }
        do { _ = try await SQSClient(client, region: "eu-west-1").getQueueURL("Q"); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "QueueDoesNotExist" && error.requestID == "sqs-1" && error.isNotFound)
        }
        #expect(await transport.sent.last.map { header($0, "Content-Type") } == "application/x-amz-json-1.0")
    }

    @Test func restJSONSendsPathQueryAndBody() async throws {
        let transport = ScriptedTransport([
            .status(
                200,
                """
                {"AliasArn":"arn:aws:lambda:eu-west-1:1:function:ApiFunction:prod","Name":"prod","FunctionVersion":"12","RevisionId":"r2",
                 "RoutingConfig":{"AdditionalVersionWeights":{"13":0.1}}}
                """, headers: ["x-amzn-RequestId": "lambda-1"])
        ])
        let (alias, requestID) = try await LambdaClient(scriptedClient(transport), region: "eu-west-1")
            .updateAlias("ApiFunction", name: "prod", version: "12", revisionID: "r1", routing: .init(["13": 0.1]))
        #expect(requestID == "lambda-1")
        #expect(alias.RoutingConfig?.AdditionalVersionWeights == ["13": 0.1])
        let request = try #require(await transport.sent.first)
        #expect(request.method == "PUT")
        #expect(request.url.absoluteString == "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/ApiFunction/aliases/prod")
        let body = try JSONSerialization.jsonObject(with: Data(request.body)) as! [String: Any]
        #expect(body["RevisionId"] as? String == "r1")
        #expect(body["FunctionVersion"] as? String == "12")
        #expect((body["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double] == ["13": 0.1])
    }

    @Test func restJSONEncodesPathSegmentsAndQuery() async throws {
        let transport = ScriptedTransport([
            .status(200, #"{"Versions":[{"FunctionName":"f","FunctionArn":"a","Version":"1"}],"NextMarker":"m 2"}"#),
            .status(200, #"{"Versions":[{"FunctionName":"f","FunctionArn":"a","Version":"2"}]}"#),
        ])
        let versions = try await LambdaClient(scriptedClient(transport), region: "eu-west-1")
            .listVersionsByFunction("arn:aws:lambda:eu-west-1:1:function:f", pageSize: 1)
        #expect(versions.map(\.Version) == ["1", "2"])
        let urls = await transport.sent.map(\.url.absoluteString)
        #expect(urls[0] == "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af/versions?MaxItems=1")
        #expect(urls[1].hasSuffix("versions?MaxItems=1&Marker=m%202"))
    }

    @Test func restJSONErrorsComeFromTheHeaderOrTheBody() async throws {
        let transport = ScriptedTransport([
            .status(
                404, #"{"Type":"User","Message":"Function not found: arn:aws:lambda:eu-west-1:1:function:X"}"#,
                headers: [
                    "x-amzn-ErrorType": "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.coral.service/", "x-amzn-RequestId": "l-404",
                ]),
            .status(409, #"{"message":"Unable to complete operation due to concurrent modification.","__type":"ConflictException"}"#),
        ])
        let lambda = LambdaClient(scriptedClient(transport), region: "eu-west-1")
        do { _ = try await lambda.getFunction("X"); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "ResourceNotFoundException" && error.requestID == "l-404" && error.message.hasPrefix("Function not found"))
        }
        do { _ = try await lambda.getAlias("X", alias: "prod"); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "ConflictException" && error.status == 409)
        }
    }

    @Test func restXMLSignsThePayloadAndTypesErrors() async throws {
        let transport = ScriptedTransport([
            .status(200, "", headers: ["ETag": "\"e\""]),
            .status(
                404,
                "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not "
                    + "exist</Message><RequestId>s3-1</RequestId></Error>"
            ),
            .status(404),
        ])
        let s3 = S3Client(scriptedClient(transport), region: "ap-south-1")
        #expect(try await s3.putObject("dzgro-artifacts", key: "functions/Api/abc.zip", body: [1, 2, 3]) == "\"e\"")
        let put = try #require(await transport.sent.first)
        #expect(put.url.absoluteString == "https://s3.ap-south-1.amazonaws.com/dzgro-artifacts/functions/Api/abc.zip")
        #expect(header(put, "X-Amz-Content-Sha256") == SigV4.hexSHA256([1, 2, 3]))
        #expect(header(put, "Authorization")?.contains("x-amz-content-sha256") == true)
        do { try await s3.createBucket("dzgro-artifacts"); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "NoSuchBucket" && error.requestID == "s3-1")
        }
        #expect(try await s3.headObject("dzgro-artifacts", key: "x") == nil)
        let create = await transport.sent[1]
        #expect(String(decoding: create.body, as: UTF8.self).contains("<LocationConstraint>ap-south-1</LocationConstraint>"))
    }

    @Test func s3sBodilessServiceUnavailableIsSlowDownAndOtherServicesStayTransient() async throws {
        // S3 answers 503 only for "Slow Down"; a HEAD's answer has no body to say so.
        let s3 = S3Client(scriptedClient(ScriptedTransport([.status(503)]), attempts: 1), region: "ap-south-1")
        do { _ = try await s3.headBucket("data"); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "SlowDown" && error.isThrottling)
        }
        // A conditional write refused: 412, also without a body.
        let refused = S3Client(scriptedClient(ScriptedTransport([.status(412)]), attempts: 1), region: "ap-south-1")
        do { _ = try await refused.putObject("state", key: "k", body: [1], condition: .absent); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "PreconditionFailed" && error.isPreconditionFailed && !error.isThrottling)
        }
        let lambda = LambdaClient(scriptedClient(ScriptedTransport([.status(503)]), attempts: 1), region: "eu-west-1")
        do { _ = try await lambda.getFunction("f"); Issue.record("no error") } catch let error as AWSError {
            #expect(error.code == "HTTP503" && !error.isThrottling && error.isTransient)
        }
    }

    @Test(arguments: [
        (502, "<html><body>Bad Gateway from the proxy</body></html>", "HTTP502", "unreadable error body: <html><body>Bad Gateway"),
        (500, "", "HTTP500", "empty response body"),
        (400, "{not json", "HTTP400", "unreadable error body: {not json"),
        (403, String(repeating: "x", count: 500), "HTTP403", "…"),
    ])
    func malformedErrorsStillSayWhatHappened(_ status: Int, _ body: String, _ code: String, _ excerpt: String) async throws {
        let transport = ScriptedTransport([.status(status, body)])
        do {
            _ = try await LambdaClient(scriptedClient(transport, attempts: 1), region: "eu-west-1").getFunction("f")
            Issue.record("no error")
        } catch let error as AWSError {
            #expect(error.code == code && error.status == status)
            #expect(error.message.contains(excerpt), "\(error.message)")
            #expect(error.message.count < 260)
        }
    }
}
