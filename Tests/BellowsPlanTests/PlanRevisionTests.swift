import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// The plan file against the text expand stored: what is cosmetic, what is a real change,
/// and the diff (pure: no database).
@Suite struct PlanRevisionTests {
    static let source = Repository.text(Repository.plansDirectory.appendingPathComponent("004_normalise_skill_names.yaml"))

    static func revision(_ edit: (String) -> String) throws -> PlanRevision {
        let expanded = try #require(PlanLoader.load(file: "plans/004_normalise_skill_names.yaml", source: source).plan)
        let current = try #require(PlanLoader.load(file: "plans/004_normalise_skill_names.yaml", source: edit(source)).plan)
        return PlanRevision.compare(expanded: expanded, current: current, table: Repository.catalog.table(expanded.table.value))
    }

    @Test func theSameBytesAreIdentical() throws {
        #expect(try Self.revision { $0 }.verdict == .identical)
    }

    static func replacing(_ find: String, _ replacement: String) -> (String) -> String {
        { $0.replacingOccurrences(of: find, with: replacement) }
    }

    @Test func commentsAddedAndRemovedAreCosmetic() throws {
        #expect(try Self.revision { $0 + "\n# reviewed\n" }.verdict == .cosmetic)
        let stripped = try Self.revision { $0.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n") }
        #expect(stripped.verdict == .cosmetic, "\(stripped.lines)")
    }

    @Test(arguments: [
        ("the description", "and make it unique", "(ticket 42)"),
        ("a gate's wording", "their own\n      capitalisation", "a display\n      label"),
        ("quoting of an expression", "up: \"lower(btrim(name))\"", "up: lower(btrim(name))"),
        ("whitespace and a comment in SQL", "sql: \"SELECT count(*) FROM skills WHERE lower(btrim(name)) = ''\"",
         "sql: \"SELECT count(*)\\n  FROM skills /* empty */ WHERE lower( btrim(name) ) = ''\""),
        ("depends_on (read by expand alone)", "depends_on:\n  migrations: [001_initial_schema]\n", ""),
    ])
    func cosmeticEdits(_ name: String, _ find: String, _ replacement: String) throws {
        #expect(Self.source.contains(find), "\(name): nothing to edit")
        let revision = try Self.revision(Self.replacing(find, replacement))
        #expect(revision.verdict == .cosmetic, "\(name): \(revision.lines)")
    }

    @Test(arguments: [
        ("up", "up: \"lower(btrim(name))\"", "up: \"upper(btrim(name))\"", "changes[1] alter name: up", "upper ( btrim ( name ) )", 19),
        ("a check's SQL", "= ''\"", "= ' '\"", "checks[no_empty_skill_names]: sql",
         "SELECT count ( * ) FROM skills WHERE lower ( btrim ( name ) ) = ' '", 37),
        ("a check's expected value", "= ''\"\n    expect: 0", "= ''\"\n    expect: 1", "checks[no_empty_skill_names]: expect", "1", 38),
        ("a gate's phase", "before: contract", "before: verify", "gates[ui-displays-normalised-names]: before", "verify", 42),
        ("a constraint", "unique: true", "unique: false", "changes[1] alter name: unique", "false", 26),
        ("a backfill setting", "batch_size: 1000", "batch_size: 500", "backfill: batch_size", "500", 0),
    ])
    func realChanges(_ name: String, _ find: String, _ replacement: String, key: String, value: String, line: Int) throws {
        #expect(Self.source.contains(find), "\(name): nothing to edit")
        let revision = try Self.revision(Self.replacing(find, replacement))
        #expect(revision.verdict == .changed, "\(name)")
        #expect(revision.differences.map(\.key) == [key], "\(name): \(revision.lines)")
        #expect(revision.differences.first?.current == value, "\(name): \(revision.lines)")
        #expect((revision.differences.first?.location?.line ?? 0) == line, "\(name): \(revision.lines)")
    }

    @Test func aChangedExpressionAlsoChangesTheSQL() throws {
        let revision = try Self.revision { $0.replacingOccurrences(of: "up: \"lower(btrim(name))\"", with: "up: \"upper(btrim(name))\"") }
        #expect(revision.phasesWithOtherSQL.contains(.expand) && revision.phasesWithOtherSQL.contains(.backfill), "\(revision.phasesWithOtherSQL)")
        #expect(revision.lines.first == "- changes[1] alter name: up: lower ( btrim ( name ) )")
        #expect(revision.lines.dropFirst().first == "+ changes[1] alter name: up: upper ( btrim ( name ) ) (plans/004_normalise_skill_names.yaml:19:10)")
    }

    @Test func aRemovedCheckIsAChange() throws {
        let revision = try Self.revision { $0.replacingOccurrences(of: "  - name: no_empty_skill_names\n    sql: \"SELECT count(*) FROM skills WHERE lower(btrim(name)) = ''\"\n    expect: 0\n", with: "") }
        #expect(revision.verdict == .changed)
        #expect(revision.differences.map(\.key) == ["checks[no_empty_skill_names]: sql", "checks[no_empty_skill_names]: expect"])
        #expect(revision.differences.allSatisfy { $0.current == nil && $0.expanded != nil })
    }
}
