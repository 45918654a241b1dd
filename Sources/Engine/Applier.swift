import AWSClient
import DesiredState
import Foundation
import Planning
import Rendering
import StateStore

/// How long to wait, and how often to look, for things AWS does on its own.
public struct WaitPolicy: Sendable {
    public var pollSeconds: Double
    public var certificateSeconds: Double
    public var stackSeconds: Double
    public var domainSeconds: Double

    public init(pollSeconds: Double = 5, certificateSeconds: Double = 900, stackSeconds: Double = 3600, domainSeconds: Double = 900) {
        self.pollSeconds = pollSeconds
        self.certificateSeconds = certificateSeconds
        self.stackSeconds = stackSeconds
        self.domainSeconds = domainSeconds
    }
}

/// A failure a person can act on: what, where, what to do.
public struct ApplyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What became of one step of a plan.
public enum ApplyOutcome: String, Sendable, Codable, CaseIterable {
    /// Done: AWS changed.
    case applied
    /// Executed, but there was nothing to change (an empty change set).
    case unchanged
    /// Left to the release gate.
    case held
    case failed
    /// Not executed: an earlier step of its region failed, or the controller is stopping.
    case notReached = "not-reached"
}

/// What happened to each step.
public struct ApplyReport: Sendable, Codable {
    public struct Entry: Sendable, Codable {
        public var region: String
        public var subject: String
        public var change: String
        public var outcome: ApplyOutcome
        public var detail: String?
        public init(region: String, subject: String, change: String, outcome: ApplyOutcome, detail: String? = nil) {
            self.region = region
            self.subject = subject
            self.change = change
            self.outcome = outcome
            self.detail = detail
        }
    }
    public var digest: String
    public var entries: [Entry]
    public init(digest: String, entries: [Entry]) {
        self.digest = digest
        self.entries = entries
    }
    public var succeeded: Bool { !entries.contains { $0.outcome == .failed || $0.outcome == .notReached } }
    public func count(_ outcome: ApplyOutcome) -> Int { entries.filter { $0.outcome == outcome }.count }
}

/// Certificates are requested in one region and used in another (the auth certificate
/// lives in us-east-1, its Cognito domain in the core region): steps meet here.
actor CertificateBoard {
    enum Entry { case pending(arn: String?), issued(String), failed(String) }
    var entries: [String: Entry] = [:]

    /// Pending in this apply; `arn` once known (planned, or just requested).
    func pending(_ purpose: String, arn: String?) { entries[purpose] = .pending(arn: arn) }
    func issued(_ purpose: String, arn: String) { entries[purpose] = .issued(arn) }
    func failIfPending(_ purpose: String, _ why: String) {
        if case .pending = entries[purpose] { entries[purpose] = .failed(why) }
    }

    func arn(_ purpose: String) -> String? {
        switch entries[purpose] {
        case .pending(let arn): return arn
        case .issued(let arn): return arn
        default: return nil
        }
    }

    /// The issued certificate's ARN, waiting while it is pending in this apply (at most
    /// `seconds`: the region that requested it waits for ISSUED under the same bound);
    /// `fallback` when this apply does not touch it.
    func waitIssued(_ purpose: String, fallback: String?, clock: any Clock, poll: Double, seconds: Double) async throws -> String? {
        let found: String?? = try await clock.poll(every: poll, for: seconds, timedOut: { "the \(purpose) certificate was still pending after \(Int(seconds)) s" }) {
            switch entries[purpose] {
            case nil: return .some(fallback)
            case .issued(let arn): return .some(arn)
            case .failed(let why): throw ApplyError("the \(purpose) certificate is not available: \(why)")
            case .pending: return nil
            }
        }
        return found ?? nil
    }
}

/// Executes a plan's ungated steps: regions concurrently, steps in order inside a region.
/// A failed step stops its region (later steps depend on earlier ones), never the others.
public struct Applier: Sendable {
    public var client: AWSClient
    public var state: DesiredState
    public var files: SourceFiles
    public var stacks: [RenderedStack]
    public var commit: String
    public var layers: LayerBuilder
    public var log: JSONLinesLog
    public var waits: WaitPolicy
    public var clock: any Clock
    /// One line of progress for a person.
    public var progress: @Sendable (String) -> Void
    /// Asked before each step; false stops the apply there (a shutdown), the rest not reached.
    public var shouldContinue: @Sendable () -> Bool

    public init(client: AWSClient, state: DesiredState, files: SourceFiles, stacks: [RenderedStack], commit: String,
                layers: LayerBuilder, log: JSONLinesLog, waits: WaitPolicy = WaitPolicy(), clock: any Clock = SystemClock(),
                progress: @escaping @Sendable (String) -> Void, shouldContinue: @escaping @Sendable () -> Bool = { !Task.isCancelled }) {
        self.clock = clock
        self.shouldContinue = shouldContinue
        self.client = client
        self.state = state
        self.files = files
        self.stacks = stacks
        self.commit = commit
        self.layers = layers
        self.log = log
        self.waits = waits
        self.progress = progress
    }

    actor Counter {
        var value = 0
        func next() -> Int { value += 1; return value }
    }

    public func apply(_ plan: Plan) async -> ApplyReport {
        let board = CertificateBoard()
        for step in plan.steps {
            if case .awaitCertificate(let purpose, let arn, _, _) = step.action { await board.pending(purpose, arn: arn) }
        }
        let total = plan.steps.filter { $0.gate == nil }.count
        let counter = Counter()
        let run = UUID().uuidString.lowercased()
        try? await log.append(["event": "apply-started", "run": run, "commit": commit, "digest": plan.digest,
                               "time": Self.now(), "steps": String(total)])
        let entries = await withTaskGroup(of: [ApplyReport.Entry].self) { group in
            for region in plan.regions {
                group.addTask {
                    await applyRegion(region, plan: plan, board: board, counter: counter, total: total, run: run)
                }
            }
            var all: [ApplyReport.Entry] = []
            for await entries in group { all += entries }
            return all
        }
        let order = Dictionary(uniqueKeysWithValues: plan.regions.enumerated().map { ($0.element.region, $0.offset) })
        let report = ApplyReport(digest: plan.digest, entries: entries.enumerated().sorted {
            (order[$0.element.region] ?? 0, $0.offset) < (order[$1.element.region] ?? 0, $1.offset)
        }.map(\.element))
        try? await log.append(["event": "apply-finished", "run": run, "commit": commit, "digest": plan.digest, "time": Self.now(),
                               "succeeded": String(report.succeeded)])
        return report
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

    func applyRegion(_ regionPlan: RegionPlan, plan: Plan, board: CertificateBoard, counter: Counter, total: Int, run: String) async -> [ApplyReport.Entry] {
        let region = regionPlan.region
        var entries: [ApplyReport.Entry] = []
        var context = RegionContext(region: region, bucket: Naming.artifactBucket(project: state.project.value, account: plan.account, region: region))
        var failure: String?
        for step in regionPlan.steps {
            func entry(_ outcome: ApplyOutcome, _ detail: String? = nil) -> ApplyReport.Entry {
                ApplyReport.Entry(region: region, subject: step.subject, change: step.change.rawValue, outcome: outcome, detail: detail)
            }
            if let gate = step.gate {
                entries.append(entry(.held, "release to \(gate) waits for approval"))
                try? await log.append(["event": "held", "run": run, "region": region, "step": step.subject, "detail": step.detail, "time": Self.now()])
                continue
            }
            if failure != nil {
                entries.append(entry(.notReached, "an earlier step in \(region) failed"))
                continue
            }
            guard shouldContinue() else {
                entries.append(entry(.notReached, "stopped before this step: the controller is shutting down"))
                continue
            }
            let n = await counter.next()
            progress("[\(n)/\(total)] \(region): \(PlanText.marker(step)) \(step.subject): \(step.detail)")
            try? await log.append(["event": "step-started", "run": run, "region": region, "step": step.subject, "change": step.change.rawValue, "time": Self.now()])
            do {
                let note = try await execute(step, context: &context, board: board)
                entries.append(entry(note == nil ? .applied : .unchanged, note))
                try? await log.append(["event": "step-done", "run": run, "region": region, "step": step.subject, "time": Self.now(),
                                       "outcome": (note == nil ? ApplyOutcome.applied : .unchanged).rawValue, "detail": note ?? step.detail])
            } catch {
                let message = "\(error)"
                failure = message
                entries.append(entry(.failed, message))
                progress("    \(region): \(step.subject) failed: \(message)")
                try? await log.append(["event": "step-failed", "run": run, "region": region, "step": step.subject, "error": message, "time": Self.now()])
            }
        }
        // Steps in other regions may wait for a certificate this region will not deliver now.
        if let failure {
            for step in regionPlan.steps {
                if case .awaitCertificate(let purpose, _, _, _) = step.action { await board.failIfPending(purpose, "\(region) stopped: \(failure)") }
            }
        }
        return entries
    }

    /// Per-region facts learned while applying (layer versions published in this run).
    struct RegionContext {
        var region: String
        var bucket: String
        var layerArns: [String: String] = [:]
    }

    /// Runs one step; returns a note when it turned out to change nothing.
    func execute(_ step: Step, context: inout RegionContext, board: CertificateBoard) async throws -> String? {
        let region = context.region
        switch step.action {
        case .artifactBucket(let name):
            let s3 = S3Client(client, region: region)
            do { try await s3.createBucket(name) } catch let error as AWSError where error.code == "BucketAlreadyOwnedByYou" {}
            try await s3.putBucketVersioning(name, enabled: true)
            try await s3.putPublicAccessBlock(name)
            return nil

        case .requestCertificate(let purpose, let domain, let names):
            let token = String(sha256Hex(([domain] + names).joined(separator: ",").utf8).prefix(32))
            let arn = try await ACMClient(client, region: region).requestCertificate(domain: domain, alternativeNames: names, idempotencyToken: token)
            await board.pending(purpose, arn: arn)
            progress("    \(region): requested \(arn)")
            return nil

        case .awaitCertificate(let purpose, let plannedArn, let domain, _):
            guard let arn = await board.arn(purpose) ?? plannedArn else { throw ApplyError("no certificate for \(domain) was requested") }
            try await awaitCertificate(arn, purpose: purpose, domain: domain, region: region, board: board)
            return nil

        case .publishLayer(let layerName, let awsName, let contentHash, let runtimes, let architecture):
            guard let layer = state.layer(named: layerName) else { throw ApplyError("layer \(layerName) is not in the desired state") }
            let build = try await layers.build(layer, files: files, architecture: architecture)
            progress("    \(region): layer \(layerName) archive \(build.zip.count) bytes (\(build.fromCache ? "from the build cache" : "built with pip"))")
            let key = ArtifactKeys.layer(layerName, buildHash: build.buildHash)
            let s3 = S3Client(client, region: region)
            if try await s3.headObject(context.bucket, key: key) == nil {
                try await s3.putObject(context.bucket, key: key, body: build.zip, contentType: "application/zip")
            }
            let published = try await LambdaClient(client, region: region).publishLayerVersion(
                awsName, s3Bucket: context.bucket, s3Key: key, runtimes: runtimes,
                description: Conventions.layerDescription(layer.description, contentHash: contentHash))
            context.layerArns[layerName] = published.LayerVersionArn
            progress("    \(region): published \(published.LayerVersionArn)")
            return nil

        case .pruneLayer(let name, let versions):
            let lambda = LambdaClient(client, region: region)
            for version in versions { try await lambda.deleteLayerVersion(name, version: version) }
            return nil

        case .uploadArtifact(let functionName, let key):
            guard let function = state.function(named: functionName) else { throw ApplyError("function \(functionName) is not in the desired state") }
            let code = function.code.value
            let zip = ZipArchive.make(files.paths(under: code).map {
                ZipArchive.Entry(path: String($0.dropFirst(code.count + 1)), bytes: files.files[$0] ?? [])
            })
            try await S3Client(client, region: region).putObject(context.bucket, key: key, body: zip, contentType: "application/zip")
            return nil

        case .deployStack(let stackName, _, _, let templateHash, _, let planned):
            guard let stack = stacks.first(where: { $0.id.region == region && $0.stackName == stackName }) else {
                throw ApplyError("stack \(stackName) is not rendered for \(region)")
            }
            guard stack.templateHash == templateHash else {
                throw ApplyError("the template of \(stackName) differs from the planned one; plan again")
            }
            var parameters = planned
            for parameter in stack.parameters where parameters[parameter] == nil || parameter == TemplateParameters.apiCertificate {
                if parameter == TemplateParameters.apiCertificate {
                    parameters[parameter] = try await board.waitIssued("api", fallback: planned[parameter], clock: clock, poll: waits.pollSeconds, seconds: waits.certificateSeconds)
                } else if let layer = state.layers.first(where: { TemplateParameters.layer($0.name.value) == parameter }) {
                    parameters[parameter] = context.layerArns[layer.name.value]
                }
                guard parameters[parameter] != nil else { throw ApplyError("no value for parameter \(parameter) of \(stackName)") }
            }
            return try await StackDeployer(client: client, region: region, waits: waits, clock: clock, progress: progress)
                .deploy(stack, parameters: parameters, bucket: context.bucket, tags: stackTags(stack, parameters: parameters))

        case .stackNeedsAttention(let name, let status, _, let remedy):
            throw ApplyError("stack \(name) in \(region) is \(status): \(remedy)")

        case .cognitoDomain(let domain, _, let poolName, let plannedArn):
            let cognito = CognitoClient(client, region: region)
            if try await cognito.describeUserPoolDomain(domain) == nil {
                guard let pool = try await cognito.listUserPools().first(where: { $0.Name == poolName }) else {
                    throw ApplyError("user pool \(poolName) does not exist in \(region), so \(domain) cannot be created; the stack deployment should have created it — check its events")
                }
                let certificate = try await board.waitIssued("auth", fallback: plannedArn, clock: clock, poll: waits.pollSeconds, seconds: waits.certificateSeconds)
                _ = try await cognito.createUserPoolDomain(domain, userPoolID: pool.Id, certificateArn: certificate)
            }
            var status = "MISSING"
            return try await clock.poll(every: waits.pollSeconds, for: waits.domainSeconds,
                                        timedOut: { "Cognito domain \(domain) still \(status) after \(Int(waits.domainSeconds)) s; apply again later" }) {
                status = try await cognito.describeUserPoolDomain(domain)?.Status ?? "MISSING"
                if status == "FAILED" { throw ApplyError("Cognito domain \(domain) FAILED; delete it (aws cognito-idp delete-user-pool-domain) and apply again") }
                return status == "ACTIVE" ? .some(nil) : nil
            }

        case .alias(_, let functionName, let environment, _, let to, let revisionID):
            // Gated steps are held by apply and moved by the release gate; the same call either way.
            let moved = try await LambdaAliases(client: client).move(region: region, functionName: functionName, environment: environment,
                                                                     to: to, expectedRevision: revisionID)
            return moved.requestID.map { "request \($0)" }
        }
    }

    func stackTags(_ stack: RenderedStack, parameters: [String: String]) -> [String: String] {
        var tags = Dictionary(state.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        tags["Project"] = state.project.value
        tags["FeatureSet"] = stack.id.featureSet
        tags[StackTags.template] = stack.templateHash
        tags[StackTags.parameters] = Conventions.parametersHash(parameters, of: stack)
        tags[StackTags.commit] = commit
        return tags
    }

    func awaitCertificate(_ arn: String, purpose: String, domain: String, region: String, board: CertificateBoard) async throws {
        let acm = ACMClient(client, region: region)
        var shown = false
        try await clock.poll(every: waits.pollSeconds, for: waits.certificateSeconds, timedOut: {
            "certificate \(domain) (\(arn)) is still PENDING_VALIDATION after \(Int(waits.certificateSeconds)) s; add the DNS records shown above, then apply again"
        }) { () -> Void? in
            let certificate = try await acm.describeCertificate(arn)
            let records = unique((certificate.DomainValidationOptions ?? []).compactMap(\.ResourceRecord))
            if !shown, !records.isEmpty, certificate.Status != "ISSUED" {
                shown = true
                progress("    \(region): certificate \(domain) waits for DNS validation; add these records:")
                for record in records { progress("      \(record.Type) \(record.Name) → \(record.Value)") }
            }
            switch certificate.Status {
            case "ISSUED":
                await board.issued(purpose, arn: arn)
                progress("    \(region): certificate \(domain) ISSUED")
                return ()
            case "PENDING_VALIDATION":
                return nil
            default:
                throw ApplyError("certificate \(domain) (\(arn)) is \(certificate.Status)\(certificate.FailureReason.map { " (\($0))" } ?? ""); delete it in ACM and apply again to request a new one")
            }
        }
    }
}
