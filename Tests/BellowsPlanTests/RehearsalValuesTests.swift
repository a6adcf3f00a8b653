import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// Issue 17: what the rehearsal's generator and writers take a column's values from, decided
/// without a database: the values a CHECK lists, and the `rehearse: values:` keys `check`
/// accepts.
@Suite struct RehearsalValuesTests {
    /// A text `CHECK (col IN (…))` as written, and as PostgreSQL stores it (`= ANY (ARRAY[…])`,
    /// with the casts of a varchar or char column). Before, the generator ignored them.
    @Test(arguments: [
        ("kind IN ('asset', 'liability')", "kind", ["asset", "liability"]),
        ("CHECK ((kind = ANY (ARRAY['asset'::text, 'liability'::text])))", "kind", ["asset", "liability"]),
        ("CHECK (((status)::text = ANY ((ARRAY['new'::character varying, 'it''s'::character varying])::text[])))", "status", ["new", "it's"]),
        ("CHECK ((currency = ANY (ARRAY['EUR'::bpchar, 'USD'::bpchar]))) NOT VALID", "currency", ["EUR", "USD"]),
        ("CHECK ((kind = 'asset'::text))", "kind", ["asset"]),
        ("\"Kind\"::text IN ('a')", "Kind", ["a"]),
        ("level IN (1, 2, -3)", "level", ["1", "2", "-3"]),
        ("CHECK ((level = ANY (ARRAY[1, 2, 3])))", "level", ["1", "2", "3"]),
    ])
    func aListedCheckGivesItsValues(_ condition: String, _ column: String, _ values: [String]) {
        #expect(CheckValueList.values(in: condition, column: column) == values)
    }

    @Test(arguments: [
        ("kind IN ('a', 'b') OR kind IS NULL", "kind"),
        ("other IN ('a', 'b')", "kind"),
        ("kind <> 'a'", "kind"),
        ("CHECK ((kind = ANY (ARRAY[lower(x), 'b'::text])))", "kind"),
        ("amount >= 0", "amount"),
        ("kind IN (SELECT k FROM kinds)", "kind"),
        ("kind = 'a' AND kind = 'b'", "kind"),
    ])
    func anythingElseGivesNone(_ condition: String, _ column: String) {
        #expect(CheckValueList.values(in: condition, column: column) == nil)
    }

    /// hostile-d 14: a hint key that is neither a column nor one the plan creates was accepted
    /// and silently ignored by the rehearsal; now a located `plan-unknown-column` error.
    @Test func aHintForAnUnknownColumnIsALocatedError() {
        let findings = check("""
            table: profiles
            changes:
              - alter: headline
                rename_to: tagline
            rehearse:
              values:
                locaton: ["Lisbon", "Porto"]
            """).filter { $0.severity == .error }
        #expect(summary(findings) == ["7:5 plan-unknown-column"], "\(findings.map(\.description))")
        #expect(findings.first?.message.contains("did you mean \"location\"?") == true)
    }

    /// A hint may name a column of the table (also the old name of one the plan renames) or
    /// one the plan creates (the new name).
    @Test func hintsForExistingAndCreatedColumnsAreAccepted() {
        let findings = check("""
            table: profiles
            changes:
              - alter: headline
                rename_to: tagline
              - add: pronouns
                type: text
            rehearse:
              values:
                headline: ["Engineer"]
                tagline: ["Engineer"]
                pronouns: ["they"]
                location: "'City ' || g"
            """).filter { $0.severity == .error }
        #expect(findings.isEmpty, "\(findings.map(\.description))")
    }

    /// Issue 17, "done when": `bellows.yaml` may give value hints too (`rehearse: values:` per
    /// table); before, the key was refused (plan-unknown-key) and there was no such hint.
    @Test func bellowsYamlGivesValueHintsPerTable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bellows.yaml").path
        try """
            rehearse:
              values:
                orders:
                  state: ["open", "paid"]
                  code: "'ORD-' || g"
                app.accounts:
                  kind: [1]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let (configuration, findings) = ProjectConfig.load(path: path)
        #expect(findings.isEmpty, "\(findings.map(\.description))")
        let tables = configuration.rehearsalValues
        #expect(tables.map(\.table.value) == ["orders", "app.accounts"])
        #expect(tables.first?.values.map(\.column.value) == ["state", "code"])
        #expect(tables.first?.values.first?.source == .list(["open", "paid"]))
        #expect(tables.last?.tableName == TableName(schema: "app", name: "accounts"))
        #expect(ProjectConfig.rehearsalValues(root: directory.path).count == 2)

        try "rehearse:\n  values:\n    orders: [open]\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ProjectConfig.load(path: path).1.map(\.rule) == ["plan-wrong-type"])
    }
}
