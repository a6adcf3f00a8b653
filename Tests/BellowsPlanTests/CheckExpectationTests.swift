import Testing
@testable import BellowsPlan

/// A check's `expect` by its YAML type against PostgreSQL's text form of the query's value
/// (hostile finding 16, 2026-12-02b: `expect: true` never matched `t`). Pure: no database.
@Suite struct CheckExpectationTests {
    static func expectation(_ yaml: String) throws -> CheckExpectation {
        let source = """
            table: users
            changes:
              - alter: email
                rename_to: email_address
            checks:
              - name: c
                sql: "SELECT 1"
                expect: \(yaml)
            """
        let loaded = PlanLoader.load(file: "plans/001_c.yaml", source: source)
        return try #require(loaded.plan?.checks.first?.expectation, "\(loaded.findings)")
    }

    @Test(arguments: [
        ("true", "t", true), ("true", "true", true), ("True", "t", true), ("true", "f", false), ("true", nil, false),
        ("false", "f", true), ("FALSE", "false", true), ("false", "t", false),
        ("0", "0", true), ("0", "0.00", true), ("0.0", "0", true), ("-0", "0", true), ("0", "1", false),
        ("500.5", "500.5000000000000000", true), ("1e3", "1000", true), ("1000", "1e+03", true), ("2.5", "2.50", true),
        ("2.5", "2.05", false), ("10", "1", false), ("1", "10", false), ("-1", "1", false), ("12", "12abc", false),
        ("0", "NaN", false), ("0", nil, false),
        ("null", nil, true), ("~", nil, true), ("null", "null", false),
        ("t", "t", true), ("t", "true", false), ("ok", "ok", true), ("ok", "OK", false),
        ("\"0.0\"", "0.0", true), ("\"0.0\"", "0", false), ("'true'", "true", true), ("'true'", "t", false),
        ("\"null\"", "null", true), ("\"null\"", nil, false), ("!!str 0", "0.0", false),
    ] as [(String, String?, Bool)])
    func matches(_ yaml: String, _ returned: String?, _ expected: Bool) throws {
        #expect(try Self.expectation(yaml).matches(returned) == expected, "expect: \(yaml) against \(returned ?? "NULL")")
    }

    @Test func reportsSayHowTheValueIsCompared() throws {
        #expect(try Self.expectation("true").description == "true")
        #expect(try Self.expectation("0").description == "0")
        #expect(try Self.expectation("null").description == "NULL")
        #expect(try Self.expectation("\"0\"").description == "\"0\" (as text)")
    }
}
