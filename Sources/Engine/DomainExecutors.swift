import DesiredState
import Foundation
import Planning
import Ports
import Rendering
import UTCTime

// The executors of DNS records, Cognito domains and aliases.

/// Writes records in the zone of `domains.route53`: each value the plan could not know is read
/// first (a certificate's validation records, a domain's target), the zone is read again at
/// each name and `DNSRecordChange.decide` applied as the plan did, then one batch goes to
/// Route 53 and the step waits (bounded) until every name server has it.
struct WriteDNSRecords: StepExecutor {
    var zoneID: String, records: [DNSRecordChange]

    func run(_ c: StepContext) async throws -> String? {
        var batch: [(record: DNSRecord, create: Bool)] = []
        for change in records {
            for record in try await resolve(change, c) {
                let existing = try await c.ports.dns.records(zoneID, name: record.name)
                switch DNSRecordChange.decide(
                    name: record.name, type: record.type, value: record.value, policy: change.policy, existing: existing, zone: zoneID)
                {
                case .satisfied: continue
                case .write(let create): batch.append((record, create))
                case .person(let remedy): throw ApplyError("DNS \(record.name): \(remedy)")
                }
            }
        }
        guard !batch.isEmpty else { return "the zone holds them already" }
        let change = try await c.ports.dns.write(zoneID, batch, comment: "reconciler \(c.work.state.project.value) at \(c.work.commit.prefix(12))")
        for (record, _) in batch { c.progress("    \(c.region): zone \(zoneID): \(record.type) \(record.name) → \(record.value)") }
        let seconds = c.waits.domainSeconds
        try await c.clock.poll(
            every: c.waits.pollSeconds, for: seconds,
            timedOut: {
                "Route 53 change \(change) in zone \(zoneID) is still PENDING after \(Int(seconds)) s; it is submitted and will apply: apply again later"
            }
        ) { try await c.ports.dns.isInSync(change) ? () : nil }
        return nil
    }

    /// The records of one change with their values, read now when the plan could not know them.
    func resolve(_ change: DNSRecordChange, _ c: StepContext) async throws -> [DNSRecord] {
        switch change.value {
        case .known(let value):
            return [DNSRecord(name: change.name, type: change.type, value: value)]
        case .certificateValidation(let purpose, let planned):
            guard let arn = await c.board.arn(purpose) ?? planned else {
                throw ApplyError("no \(purpose) certificate was requested, so its validation records cannot be written")
            }
            // ACM fills in the validation records a few seconds after the request.
            let seconds = c.waits.certificateSeconds
            return try await c.clock.poll(
                every: c.waits.pollSeconds, for: seconds,
                timedOut: {
                    "ACM gave no validation records for \(change.name) (\(arn)) within \(Int(seconds)) s; apply again"
                }
            ) { () -> [DNSRecord]? in
                let records = try await c.ports.certificates.certificate(arn, region: c.region).records
                return records.isEmpty ? nil : records
            }
        case .cognitoDistribution:
            guard let target = try await c.ports.domains.domain(change.name, region: c.region)?.target else {
                throw ApplyError(
                    "Cognito names no CloudFront distribution for \(change.name) in \(c.region); check the domain (aws cognito-idp "
                        + "describe-user-pool-domain) and apply again"
                )
            }
            return [DNSRecord(name: change.name, type: change.type, value: target)]
        case .apiRegionalName(let stackName, let output):
            guard let target = try await c.ports.stacks.stack(stackName, region: c.region)?.outputs[output] else {
                throw ApplyError(
                    "stack \(stackName) in \(c.region) has no output \(output), the regional name of \(change.name); check its events and apply again")
            }
            return [DNSRecord(name: change.name, type: change.type, value: target)]
        }
    }
}

struct CreateCognitoDomain: StepExecutor {
    var domain: String, environment: String, userPool: String, plannedCertificateArn: String?
    func run(_ c: StepContext) async throws -> String? {
        let domains = c.ports.domains
        if try await domains.domain(domain, region: c.region) == nil {
            // The stack's own pool, by its logical ID: user pools are not unique by name.
            let stack = c.work.state.cognito.map { Naming.stackName(project: c.work.state.project.value, featureSet: $0.featureSet.value) } ?? "?"
            guard let pool = try await c.ports.stacks.resources(stack: stack, region: c.region)[TemplateParameters.userPoolID(environment)] else {
                throw ApplyError(
                    "user pool \(userPool) is not in stack \(stack) in \(c.region), so \(domain) cannot be created; the stack deployment should have created "
                        + "it — check its events"
                )
            }
            let certificate = try await c.board.waitIssued(
                "auth", fallback: plannedCertificateArn, clock: c.clock, poll: c.waits.pollSeconds, seconds: c.waits.certificateSeconds)
            try await domains.createDomain(domain, userPoolID: pool, certificateArn: certificate, region: c.region)
        }
        var status = "MISSING"
        let seconds = c.waits.domainSeconds
        try await c.clock.poll(
            every: c.waits.pollSeconds, for: seconds, timedOut: { "Cognito domain \(domain) still \(status) after \(Int(seconds)) s; apply again later" }
        ) { () -> Void? in
            status = try await domains.domain(domain, region: c.region)?.status ?? "MISSING"
            if status == "FAILED" { throw ApplyError("Cognito domain \(domain) FAILED; delete it (aws cognito-idp delete-user-pool-domain) and apply again") }
            return status == "ACTIVE" ? () : nil
        }
        return nil
    }
}

struct MoveAlias: StepExecutor {
    var functionName: String, environment: String, to: AliasTarget, revisionID: String?
    func run(_ c: StepContext) async throws -> String? {
        // Gated steps are held by apply and moved by the release gate; the same call either way.
        let moved = try await c.ports.aliases.move(region: c.region, functionName: functionName, environment: environment, to: to, expectedRevision: revisionID)
        return moved.requestID.map { "request \($0)" }
    }
}
