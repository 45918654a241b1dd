import DesiredState
import Foundation
import Rendering
import UTCTime

/// One thing a drift check found different from git, or waiting for a person.
public struct Finding: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// A staging or prod alias (the controller's own pointer) is not at its pin.
        case alias
        /// CloudFormation drift detection found a resource changed or deleted outside its stack.
        case resource
        /// A certificate pending validation or failed: a person must act before it can be used.
        case certificate
        /// An issued certificate expiring within 30 days (a warning: nothing stops yet).
        case expiry
        /// A stack in a state only a person can end, or in progress far too long.
        case stack
        /// A check that could not run; not drift, but nothing is known.
        case unchecked
    }

    public var kind: Kind
    public var region: String
    /// The stack the finding belongs to, when it belongs to one.
    public var stack: String?
    /// What drifted, e.g. `alias dzgro-Api:prod`.
    public var subject: String
    /// What was found.
    public var detail: String
    /// What to do about it.
    public var remedy: String
    /// For alias findings: the environment and the version the pin asks for.
    public var environment: String?

    public init(kind: Kind, region: String, stack: String? = nil, subject: String, detail: String, remedy: String, environment: String? = nil) {
        self.kind = kind
        self.region = region
        self.stack = stack
        self.subject = subject
        self.detail = detail
        self.remedy = remedy
        self.environment = environment
    }

    /// Drift proper: the cloud differs from git (an unchecked stack is not drift).
    public var isDrift: Bool { kind == .alias || kind == .resource }
}

/// A resource CloudFormation found drifted (DescribeStackResourceDrifts).
public struct ResourceDrift: Hashable, Sendable, Codable {
    public var logicalID: String
    public var type: String
    /// MODIFIED, DELETED (IN_SYNC and NOT_CHECKED are not drift).
    public var status: String
    public var differences: [String]

    public init(logicalID: String, type: String, status: String, differences: [String]) {
        self.logicalID = logicalID
        self.type = type
        self.status = status
        self.differences = differences
    }
}

/// The rules of a drift check, over what was observed. Pure.
public enum DriftRules {
    /// Certificates expiring sooner than this are reported.
    public static let certificateWarning: TimeInterval = 30 * 86_400

    /// Key of a gated alias, `region/functionName/environment`.
    public static func aliasKey(region: String, functionName: String, environment: String) -> String {
        "\(region)/\(functionName)/\(environment)"
    }

    /// Gated aliases that point elsewhere than their pin. `awaiting` maps the aliases of
    /// live approvals to the target they are to move from: an alias still there is a release
    /// waiting for its code, not drift. Functions not deployed yet are not drift either.
    public static func aliases(_ state: DesiredState, snapshot: Snapshot, regions: [String], awaiting: [String: AliasTarget?]) -> [Finding] {
        var findings: [Finding] = []
        for region in regions {
            for function in Planner.functions(in: state, region: region) {
                let functionName = Naming.functionName(function.name.value)
                guard let fact = snapshot[region].functions[functionName] else { continue }
                for environment in state.gatedEnvironments {
                    let env = environment.name.value
                    guard let pin = state.releases.pin(environment: env, region: region, function: function.name.value) else { continue }
                    let wanted = AliasTarget(pin)
                    let actual = fact.aliases[env]?.target
                    guard actual != wanted else { continue }
                    let key = aliasKey(region: region, functionName: functionName, environment: env)
                    if let from = awaiting[key], from == actual { continue }
                    let stack = Naming.stackName(project: state.project.value, featureSet: function.featureSet.value)
                    findings.append(
                        Finding(
                            kind: .alias, region: region, stack: stack, subject: "alias \(functionName):\(env)",
                            detail: actual.map { "points at \($0); releases.yaml pins \(wanted)" } ?? "is missing; releases.yaml pins \(wanted)",
                            remedy:
                                "if the change was intended, pin it in releases.yaml and commit; otherwise `reconciler apply` requests an approval to move "
                                + "it back "
                                + "to \(wanted) (with [drift] policy = \"correct\" the controller requests it)",
                            environment: env))
                }
            }
        }
        return findings
    }

    /// Certificates the desired state uses that are pending validation, failed, or expire soon.
    public static func certificates(_ snapshot: Snapshot, regions: [String], now: Date) -> [Finding] {
        var findings: [Finding] = []
        for region in regions {
            for certificate in snapshot[region].certificates {
                let subject = "certificate \(certificate.domainName)"
                let cli = "--certificate-arn \(certificate.arn) --region \(region)"
                switch certificate.status {
                case "ISSUED":
                    guard let notAfter = certificate.notAfter else { continue }
                    let left = notAfter - now.timeIntervalSince1970
                    guard left < certificateWarning else { continue }
                    let days = Int((left / 86_400).rounded(.down))
                    findings.append(
                        Finding(
                            kind: .expiry, region: region, subject: subject,
                            detail: left <= 0 ? "expired on \(day(notAfter))" : "expires on \(day(notAfter)) (in \(days) day\(days == 1 ? "" : "s"))",
                            remedy: "ACM renews a DNS-validated certificate in use by itself only while its validation CNAME records are in DNS: "
                                + "check them with `aws acm describe-certificate \(cli)`; if renewal is not possible, delete the certificate and apply again "
                                + "to request a new one"
                        ))
                case "PENDING_VALIDATION":
                    let records = certificate.records.map { "\($0.type) \($0.name) → \($0.value)" }
                    findings.append(
                        Finding(
                            kind: .certificate, region: region, subject: subject, detail: "pending DNS validation",
                            remedy: records.isEmpty
                                ? "ACM has not published the validation records yet; check again later"
                                : "add to DNS: " + records.joined(separator: "; ")))
                default:
                    findings.append(
                        Finding(
                            kind: .certificate, region: region, subject: subject,
                            detail: "\(certificate.status)\(certificate.failureReason.map { " (\($0))" } ?? "")",
                            remedy: "delete it (`aws acm delete-certificate \(cli)`) and apply again to request a new one"))
                }
            }
        }
        return findings
    }

    /// Stacks in a state only a person can end, and stacks in progress for longer than
    /// `stuckAfter` seconds since their last change.
    public static func stacks(_ snapshot: Snapshot, regions: [String], now: Date, stuckAfter: TimeInterval) -> [Finding] {
        var findings: [Finding] = []
        for region in regions {
            for (name, fact) in snapshot[region].stacks.sorted(by: { $0.key < $1.key }) {
                let reason = fact.statusReason.map { " (\($0))" } ?? ""
                switch StackStatus.disposition(fact.status, stack: name, region: region) {
                case .needsPerson(let remedy):
                    findings.append(
                        Finding(kind: .stack, region: region, stack: name, subject: "stack \(name)", detail: "\(fact.status)\(reason)", remedy: remedy))
                case .inProgress:
                    guard let since = fact.lastChange.flatMap(parseTime), now.timeIntervalSince(since) > stuckAfter else { continue }
                    let minutes = Int(now.timeIntervalSince(since) / 60)
                    findings.append(
                        Finding(
                            kind: .stack, region: region, stack: name, subject: "stack \(name)",
                            detail:
                                "\(fact.status) for \(minutes < 1 ? "under a minute" : "\(minutes) min") since \(fact.lastChange ?? "")\(reason), longer "
                                + "than [apply] stack_wait_seconds",
                            remedy: StackStatus.stuckRemedy(fact.status, stack: name, region: region)))
                case .absent, .ready:
                    continue
                }
            }
        }
        return findings
    }

    /// Resource drift from CloudFormation, without the resources the controller owns.
    public static func resources(_ drifts: [ResourceDrift], stack: RenderedStack) -> [Finding] {
        let owned = stack.controllerOwned
        return drifts.filter { ($0.status == "MODIFIED" || $0.status == "DELETED") && !owned.contains($0.logicalID) }.map { drift in
            let cli = "--stack-name \(stack.stackName) --region \(stack.id.region)"
            return Finding(
                kind: .resource, region: stack.id.region, stack: stack.stackName, subject: "\(drift.type) \(drift.logicalID)",
                detail: drift.status == "DELETED"
                    ? "deleted outside CloudFormation"
                    : "changed outside CloudFormation" + (drift.differences.isEmpty ? "" : ": " + drift.differences.joined(separator: ", ")),
                remedy: "undo the change by hand (`aws cloudformation describe-stack-resource-drifts \(cli)` shows expected and actual values), "
                    + "or put it in the desired state and commit; deploying the same template does not revert drift")
        }
    }

    static func day(_ seconds: Double) -> String {
        String(UTCTime.string(Date(timeIntervalSince1970: seconds)).prefix(10))
    }

    /// CloudFormation timestamps, with or without fractional seconds.
    public static func parseTime(_ text: String) -> Date? {
        UTCTime.parse(text)
    }
}
