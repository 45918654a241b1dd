import AWSClient
import DesiredState
import Fixtures
import Planning
import Ports
import Testing

@testable import AWSAdapters
@testable import Engine

/// What the observer reads, and what it may leave unread because another answer already says it.
@Suite("Observation reads")
struct ObservationReadsTests {
    /// One listing of the region's layers; a layer's versions are listed only when its newest
    /// version lacks the desired content (an older one may hold it, after a revert).
    @Test func onlyALayerWhoseNewestVersionLacksTheContentHasItsVersionsListed() async throws {
        let (state, stacks) = try DefaultState.load()
        let region = "ap-south-1"
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let layers = state.layers.filter { ["common", "ams"].contains($0.name.value) }
        let name: (Layer) -> String = { Naming.layerName(project: "Dzgro", layer: $0.name.value) }
        let common = try #require(layers.first { $0.name.value == "common" }), ams = try #require(layers.first { $0.name.value == "ams" })
        // common: the desired content is version 1, and a later version 2 holds other content.
        _ = try await cloud.publish(
            name(common), bucket: "b", key: "k", runtimes: [], description: Conventions.layerDescription("common", contentHash: common.contentHash),
            region: region)
        _ = try await cloud.publish(
            name(common), bucket: "b", key: "k", runtimes: [], description: Conventions.layerDescription("common", contentHash: "other"), region: region)
        // ams: its newest version is the desired one.
        _ = try await cloud.publish(
            name(ams), bucket: "b", key: "k", runtimes: [], description: Conventions.layerDescription("ams", contentHash: "old"), region: region)
        _ = try await cloud.publish(
            name(ams), bucket: "b", key: "k", runtimes: [], description: Conventions.layerDescription("ams", contentHash: ams.contentHash), region: region)

        let target = try #require(Planner.targets(state, stacks: stacks).first { $0.region == region })
        let snapshot = try await Observer(ports: cloud.ports).observe([target], project: "Dzgro", account: DefaultState.account)
        #expect(await cloud.layerVersionLists == ["\(region)/\(name(common))"])
        #expect(snapshot[region].layers[name(ams)]?.map(\.version) == [2])
        #expect(snapshot[region].layers[name(common)]?.map(\.version).sorted() == [1, 2])
        // A layer with no version at all is absent, as before.
        #expect(state.layers.filter { !["common", "ams"].contains($0.name.value) }.allSatisfy { snapshot[region].layers[name($0)] == nil })

        // The plan reuses common's version 1 and publishes only the layer that has none.
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c")
        let published = plan.regions.first { $0.region == region }?.steps.compactMap { step -> String? in
            if case .publishLayer(let layer, _, _, _, _) = step.action { return layer } else { return nil }
        }
        #expect(published == state.layers.map(\.name.value).filter { !["common", "ams"].contains($0) }.sorted())
    }

    /// ListCertificates on AWS names an issued certificate's alternative names and expiry: such a
    /// summary is the whole fact. Anything less is described.
    @Test(arguments: [
        (
            ACMClient.Summary(
                CertificateArn: "a", DomainName: "x.dzgro.com", Status: "ISSUED", SubjectAlternativeNameSummaries: ["x.dzgro.com", "y.dzgro.com"],
                HasAdditionalSubjectAlternativeNames: false, NotAfter: 1_900_000_000), true
        ),
        (
            ACMClient.Summary(
                CertificateArn: "a", DomainName: "x.dzgro.com", Status: "ISSUED", SubjectAlternativeNameSummaries: ["x.dzgro.com"],
                HasAdditionalSubjectAlternativeNames: true, NotAfter: 1_900_000_000), false
        ),
        (
            ACMClient.Summary(
                CertificateArn: "a", DomainName: "x.dzgro.com", Status: "ISSUED", SubjectAlternativeNameSummaries: nil,
                HasAdditionalSubjectAlternativeNames: nil, NotAfter: nil), false
        ),
        (
            ACMClient.Summary(
                CertificateArn: "a", DomainName: "x.dzgro.com", Status: "ISSUED", SubjectAlternativeNameSummaries: ["x.dzgro.com"],
                HasAdditionalSubjectAlternativeNames: false, NotAfter: nil), false
        ),
        (
            ACMClient.Summary(
                CertificateArn: "a", DomainName: "x.dzgro.com", Status: "PENDING_VALIDATION", SubjectAlternativeNameSummaries: ["x.dzgro.com"],
                HasAdditionalSubjectAlternativeNames: false, NotAfter: nil), false
        ),
    ])
    func anIssuedCertificateWhoseSummaryNamesAllOfItNeedsNoDescribe(summary: ACMClient.Summary, whole: Bool) {
        let fact = CertificateFact(summary: summary)
        #expect((fact != nil) == whole)
        if let fact {
            #expect(fact.alternativeNames == ["y.dzgro.com"] && fact.status == "ISSUED" && fact.notAfter == 1_900_000_000 && fact.records.isEmpty)
        }
    }
}
