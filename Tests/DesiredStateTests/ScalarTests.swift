import Testing

@testable import DesiredState

/// The reader interprets plain scalars itself (YAML 1.1's booleans and nulls), as the regular
/// expressions of Yams' default resolver did, without running them.
@Suite struct ScalarTests {
    func node(_ yaml: String) throws -> YNode {
        let context = ReadContext()
        return try #require(parseYAML("value: \(yaml)\n", file: "t.yaml", context: context)?.mapping(allowed: ["value"])?.fields["value"]?.value)
    }

    @Test(arguments: [
        ("true", true), ("True", true), ("TRUE", true), ("yes", true), ("Yes", true), ("on", true), ("ON", true),
        ("false", false), ("False", false), ("no", false), ("NO", false), ("off", false), ("Off", false),
    ])
    func plainBooleans(text: String, value: Bool) throws {
        #expect(try node(text).bool() == value)
    }

    @Test(arguments: ["\"true\"", "'yes'", "tRUE", "1", "y", "enabled"])
    func notBooleans(text: String) throws {
        let node = try node(text)
        #expect(node.bool() == nil)
        #expect(node.context.diagnostics.all.first?.message.contains("expected true or false") == true)
    }

    @Test(arguments: [
        ("~", true), ("null", true), ("Null", true), ("NULL", true), ("", true), ("\"\"", false), ("'null'", false), ("nil", false), ("none", false),
    ])
    func nulls(text: String, isNull: Bool) throws {
        #expect(try node(text).isNull == isNull)
    }
}
