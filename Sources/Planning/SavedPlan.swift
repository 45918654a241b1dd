import Foundation

/// A plan written by `plan --out FILE` for `apply FILE`, which executes it only while
/// everything it was based on is as it was: the same commit, account and regions, and an
/// observation that plans to the same digest (the same steps from the same fingerprints).
public struct SavedPlan: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public var formatVersion: Int
    public var savedAt: Date
    /// Where the desired state was read, as `plan` printed it.
    public var source: String
    /// The regions asked for (`plan --region`); empty: every region.
    public var regions: [String]
    /// The feature sets asked for (`plan --feature-set`); absent: every one.
    public var featureSets: [String]?
    public var plan: Plan

    public init(savedAt: Date, source: String, regions: [String], featureSets: [String]? = nil, plan: Plan) {
        formatVersion = Self.formatVersion
        self.savedAt = savedAt
        self.source = source
        self.regions = regions
        self.featureSets = featureSets
        self.plan = plan
    }

    /// What differs between the saved plan and one made now, for a person: empty when the
    /// digests match.
    public func differences(from now: Plan) -> [String] {
        guard now.digest != plan.digest else { return [] }
        var lines: [String] = []
        if now.commit != plan.commit { lines.append("commit: planned \(plan.commit.prefix(12)), now \(now.commit.prefix(12))") }
        if now.account != plan.account { lines.append("account: planned \(plan.account), now \(now.account)") }
        for key in Set(plan.fingerprints.keys).union(now.fingerprints.keys).sorted() where plan.fingerprints[key] != now.fingerprints[key] {
            lines.append("\(key): was \(plan.fingerprints[key] ?? "absent"), now \(now.fingerprints[key] ?? "absent")")
        }
        func described(_ plan: Plan) -> [String] { plan.steps.map { "\($0.region) \($0.subject): \($0.detail)" } }
        let (before, after) = (described(plan), described(now))
        lines += before.filter { !after.contains($0) }.map { "no longer planned: \($0)" }
        lines += after.filter { !before.contains($0) }.map { "newly planned: \($0)" }
        let previews = Dictionary(plan.steps.map { ("\($0.region) \($0.subject)", $0.preview) }, uniquingKeysWith: { a, _ in a })
        for step in now.steps {
            let key = "\(step.region) \(step.subject)"
            guard let planned = previews[key], planned != step.preview else { continue }
            func count(_ preview: StackPreview?) -> String {
                preview.map { "\($0.changes.count) resource change\($0.changes.count == 1 ? "" : "s")" } ?? "no change set"
            }
            lines.append("\(key): its change set differs (planned \(count(planned)), now \(count(step.preview)))")
        }
        return lines.isEmpty ? ["the steps' details differ (digest \(plan.digest.prefix(16)) planned, \(now.digest.prefix(16)) now)"] : lines
    }
}
