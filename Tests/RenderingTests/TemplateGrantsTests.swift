import DesiredState
import Foundation
import Rendering
import Testing

/// What a template grants, compared between the deployed and the new template: what is
/// granted anew is a widening the release gate holds.
@Suite struct TemplateGrantsTests {
    static func core(_ files: SourceFiles = DefaultState.files) throws -> String {
        try #require(Renderer.render(try DefaultState.state(files)).first { $0.stackName == "Dzgro-core" && $0.id.region == "ap-south-1" }).body
    }

    @Test func theSameTemplateAndANarrowerOneWidenNothing() throws {
        let deployed = try Self.core()
        #expect(try TemplateGrants.widening(from: deployed, to: deployed).isEmpty)
        #expect(try TemplateGrants.of(deployed).contains { $0.hasPrefix("ApiFunctionRole allows s3:PutObject on ") })
        let narrower = try Self.core(
            DefaultState.edited(
                "functions.yaml", "buckets: [dzgro-reports, amazon-reports, dzgro-uploads, dzgro-invoices, dzgro-exports]",
                "buckets: [dzgro-reports, dzgro-uploads]"))
        #expect(try TemplateGrants.widening(from: deployed, to: narrower).isEmpty)
        #expect(try !TemplateGrants.widening(from: narrower, to: deployed).isEmpty)
    }

    @Test func aFunctionGainingABucketWidensItsRoleOnly() throws {
        let deployed = try Self.core()
        let wider = try Self.core(
            DefaultState.edited(
                "functions.yaml", "buckets: [dzgro-reports, amazon-reports, dzgro-exports]",
                "buckets: [dzgro-reports, amazon-reports, dzgro-exports, dzgro-uploads]"))
        let widened = try TemplateGrants.widening(from: deployed, to: wider)
        #expect(!widened.isEmpty)
        #expect(widened.allSatisfy { $0.hasPrefix("QueueModelMessageProcessorFunctionRole allows s3:") && $0.contains("dzgro-uploads-") }, "\(widened)")
        #expect(widened.contains("QueueModelMessageProcessorFunctionRole allows s3:PutObject on arn:${AWS::Partition}:s3:::dzgro-uploads-prod/*"), "\(widened)")
    }

    @Test func aNewTriggerGrantsAPrincipalTheRightToInvoke() throws {
        let deployed = try Self.core()
        let wider = try Self.core(
            DefaultState.edited(
                "functions.yaml", "      - bucket: dzgro-reports\n",
                "      - bucket: dzgro-uploads\n        events: [\"s3:ObjectCreated:*\"]\n      - bucket: dzgro-reports\n"))
        let widened = try TemplateGrants.widening(from: deployed, to: wider)
        #expect(widened.contains { $0.hasPrefix("s3.amazonaws.com may lambda:InvokeFunction ") && $0.contains("dzgro-uploads-prod") }, "\(widened)")
    }

    @Test(arguments: [
        // Who may assume the role, managed policies, attachments, conditions and Not* forms.
        (
            "AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}",
            "AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {AWS: '*'}, Action: sts:AssumeRole}]}",
            ["R may be assumed by {AWS: *}"]
        ),
        (
            "ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]",
            "ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]",
            ["R has the managed policy arn:aws:iam::aws:policy/AdministratorAccess"]
        ),
        (
            "Policies: [{PolicyName: p, PolicyDocument: {Statement: [{Effect: Allow, Action: s3:GetObject, Resource: '*', Condition: {Bool: "
                + "{aws:SecureTransport: 'true'}}}]}}]",
            "Policies: [{PolicyName: p, PolicyDocument: {Statement: [{Effect: Allow, Action: s3:GetObject, Resource: '*'}]}}]",
            ["R allows s3:GetObject on *"]
        ),
        (
            "Policies: [{PolicyName: p, PolicyDocument: {Statement: [{Effect: Deny, Action: '*', Resource: '*'}]}}]",
            "Policies: [{PolicyName: p, PolicyDocument: {Statement: [{Effect: Allow, NotAction: iam:*, Resource: {'Fn::GetAtt': [Q, Arn]}}]}}]",
            ["R allows every action but iam:* on Q.Arn"]
        ),
    ])
    func roleGrants(old: String, new: String, widened: [String]) throws {
        func template(_ properties: String) -> String { "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties: {\(properties.dropFirst(0))}\n" }
        #expect(try TemplateGrants.widening(from: template(old), to: template(new)) == widened)
    }

    @Test func anUnreadableTemplateIsAnError() {
        #expect(throws: TemplateGrants.Unreadable.self) { try TemplateGrants.of("[1, 2") }
        #expect(throws: TemplateGrants.Unreadable.self) { try TemplateGrants.of("- a list") }
    }
}
