import Foundation
import Rendering
import Testing

/// The template edits of an adoption: what a resource leaving a stack leaves behind there.
@Suite("Template edits for adoption")
struct TemplateEditTests {
    /// An earlier deployment's template as people write it: short tags, a reference of each kind.
    static let old = """
        AWSTemplateFormatVersion: '2010-09-09'
        Resources:
          Pool:
            Type: AWS::Cognito::UserPool
            Properties:
              UserPoolName: DzgroUserPoolDev
          Client:
            Type: AWS::Cognito::UserPoolClient
            DependsOn: [Pool, Queue]
            Properties:
              UserPoolId: !Ref Pool
              ClientName: web
          Queue:
            Type: AWS::SQS::Queue
            DeletionPolicy: Retain
            Properties:
              QueueName: PaymentsQDev
              VisibilityTimeout: 30
              FifoQueue: false
          Alarm:
            Type: AWS::CloudWatch::Alarm
            Properties:
              Dimensions:
                - Name: QueueName
                  Value: !GetAtt Queue.QueueName
              AlarmActions: [!GetAtt [Queue, Arn]]
              AlarmDescription: !Sub "watches ${Queue.Arn} in ${AWS::Region} via ${Queue}"
        Outputs:
          PoolArn:
            Value: !GetAtt Pool.Arn
        """

    static let queue = TemplateEdit.Values(ref: "https://sqs/1/PaymentsQDev", attributes: ["Arn": "arn:aws:sqs:r:1:PaymentsQDev", "QueueName": "PaymentsQDev"])
    static let pool = TemplateEdit.Values(ref: "r_pool", attributes: ["Arn": "arn:aws:cognito-idp:r:1:userpool/r_pool"])

    @Test func shortTagsReadAsTheLongFormWithScalarsTyped() throws {
        let template = try TemplateEdit.load(Self.old)
        let resources = TemplateEdit.resources(template)
        let client = try #require(resources["Client"] as? [String: Any])
        #expect((client["Properties"] as? [String: Any])?["UserPoolId"] as? [String: String] == ["Ref": "Pool"])
        let queue = try #require((resources["Queue"] as? [String: Any])?["Properties"] as? [String: Any])
        #expect(queue["VisibilityTimeout"] as? Int == 30 && queue["FifoQueue"] as? Bool == false)
        let alarm = try #require((resources["Alarm"] as? [String: Any])?["Properties"] as? [String: Any])
        #expect(((alarm["Dimensions"] as? [Any])?.first as? [String: Any])?["Value"] as? [String: [String]] == ["Fn::GetAtt": ["Queue", "QueueName"]])
        #expect(template["AWSTemplateFormatVersion"] as? String == "2010-09-09")
        #expect(throws: TemplateEdit.Problem.self) { try TemplateEdit.load("- a list") }
    }

    @Test func retainingSetsBothPoliciesAndSaysWhenNothingChanged() throws {
        let template = try TemplateEdit.load(Self.old)
        let retained = try #require(try TemplateEdit.retaining(["Pool", "Queue"], in: template))
        for id in ["Pool", "Queue"] {
            let resource = TemplateEdit.resources(retained)[id] as? [String: Any]
            #expect(resource?["DeletionPolicy"] as? String == "Retain" && resource?["UpdateReplacePolicy"] as? String == "Retain")
        }
        #expect((TemplateEdit.resources(retained)["Client"] as? [String: Any])?["DeletionPolicy"] == nil, "only the named resources")
        #expect(try TemplateEdit.retaining(["Pool", "Queue"], in: retained) == nil)
        #expect(throws: TemplateEdit.Problem.self) { try TemplateEdit.retaining(["Missing"], in: template) }
    }

    @Test func removingReplacesEveryReferenceByItsValue() throws {
        let removed = try TemplateEdit.removing(["Queue": Self.queue, "Pool": Self.pool], from: try TemplateEdit.load(Self.old))
        let text = try TemplateEdit.json(removed)
        #expect(TemplateEdit.resources(removed).keys.sorted() == ["Alarm", "Client"])
        let client = try #require(TemplateEdit.resources(removed)["Client"] as? [String: Any])
        #expect(client["DependsOn"] == nil, "DependsOn forgets the removed resources")
        #expect((client["Properties"] as? [String: Any])?["UserPoolId"] as? String == "r_pool")
        let alarm = try #require((TemplateEdit.resources(removed)["Alarm"] as? [String: Any])?["Properties"] as? [String: Any])
        #expect(((alarm["Dimensions"] as? [Any])?.first as? [String: Any])?["Value"] as? String == "PaymentsQDev")
        #expect(alarm["AlarmActions"] as? [String] == ["arn:aws:sqs:r:1:PaymentsQDev"])
        #expect(
            alarm["AlarmDescription"] as? [String: String] == [
                "Fn::Sub": "watches arn:aws:sqs:r:1:PaymentsQDev in ${AWS::Region} via https://sqs/1/PaymentsQDev"
            ])
        #expect(((removed["Outputs"] as? [String: Any])?["PoolArn"] as? [String: Any])?["Value"] as? String == "arn:aws:cognito-idp:r:1:userpool/r_pool")
        #expect(!text.contains("\"Ref\":\"Pool\"") && !text.contains("\"Queue\""), "\(text)")
    }

    @Test func anAttributeWithNoKnownValueIsAProblemNotAGuess() throws {
        let partial = TemplateEdit.Values(ref: "u", attributes: ["Arn": "a"])
        #expect(throws: TemplateEdit.Problem.self) { try TemplateEdit.removing(["Queue": partial], from: try TemplateEdit.load(Self.old)) }
    }

    @Test func theMappingsOfADomainAreFoundByNameOrThroughTheirDomainResource() throws {
        let template = try TemplateEdit.load(
            """
            Resources:
              Domain: {Type: AWS::ApiGatewayV2::DomainName, Properties: {DomainName: api.dev.dzgro.com}}
              ByRef: {Type: AWS::ApiGatewayV2::ApiMapping, Properties: {DomainName: !Ref Domain, ApiId: x, Stage: dev}}
              ByName: {Type: AWS::ApiGateway::BasePathMapping, Properties: {DomainName: api.dev.dzgro.com, RestApiId: y}}
              Elsewhere: {Type: AWS::ApiGateway::BasePathMapping, Properties: {DomainName: api.prod.dzgro.com, RestApiId: y}}
            """)
        #expect(TemplateEdit.mappings(of: "api.dev.dzgro.com", in: template) == ["ByName", "ByRef"])
    }

    @Test func addingDeclaresResourcesBesideTheStacksOwn() throws {
        let declaration = #"{"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain", "Properties": {"QueueName": "A", "FifoQueue": false}}"#
        let fresh = try TemplateEdit.adding(["AQueue": declaration], to: [:])
        #expect(fresh["AWSTemplateFormatVersion"] as? String == "2010-09-09")
        let queue = try #require(TemplateEdit.resources(fresh)["AQueue"] as? [String: Any])
        #expect((queue["Properties"] as? [String: Any])?["FifoQueue"] as? Bool == false)
        let existing = try TemplateEdit.adding(["AQueue": declaration], to: try TemplateEdit.load(Self.old))
        #expect(TemplateEdit.resources(existing).count == 5)
        #expect(throws: TemplateEdit.Problem.self) { try TemplateEdit.adding(["AQueue": "[1]"], to: [:]) }
    }
}
