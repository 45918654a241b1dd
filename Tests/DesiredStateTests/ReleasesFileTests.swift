import DesiredState
import Foundation
import Testing

@Suite struct ReleasesFileTests {
    /// What promote writes reads back as the same pins, keeps the header comment and puts
    /// a canary in the documented flow form.
    @Test func renderedPinsReadBackIdentically() throws {
        var files = Fixture.files
        let original = try #require(files.text("releases.yaml"))
        var releases = try DesiredStateLoader.loadValid(files).releases
        let index = try #require(releases.pins.firstIndex { $0.environment.value == "prod" && $0.function.value == "Api" })
        releases.pins[index].version = Located(12, at: releases.pins[index].version.location)
        releases.pins[index].canary = Releases.Canary(version: Located(13, at: .file("releases.yaml")), weight: Located(0.1, at: .file("releases.yaml")))

        let text = ReleasesFile.render(releases, keepingHeaderOf: original)
        #expect(text.hasPrefix(original.prefix { $0 != "s" }))  // the comment block before `staging:`
        #expect(text.contains("\n    Api: {version: 12, canary: {version: 13, weight: 0.1}}\n"))
        files.files["releases.yaml"] = Array(text.utf8)
        let reread = try DesiredStateLoader.loadValid(files).releases
        #expect(reread.pins.map(ReleasesFile.value) == releases.pins.map(ReleasesFile.value))
        #expect(
            reread.pins.map { "\($0.environment.value).\($0.region.value).\($0.function.value)" }
                == releases.pins.map { "\($0.environment.value).\($0.region.value).\($0.function.value)" })
        let pin = try #require(reread.pin(environment: "prod", region: "ap-south-1", function: "Api"))
        #expect(pin.canary?.version.value == 13 && pin.canary?.weight.value == 0.1)

        // Rendering the unchanged pins gives back the bundled file byte for byte.
        let same = ReleasesFile.render(try DesiredStateLoader.loadValid(Fixture.files).releases, keepingHeaderOf: original)
        #expect(same == original)
    }
}
