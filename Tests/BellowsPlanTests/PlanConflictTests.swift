import Testing
@testable import BellowsPlan

@Suite struct PlanConflictTests {
    func plan(_ changes: String) throws -> Plan {
        try #require(PlanLoader.load(file: "plans/010_x.yaml", source: "table: users\nchanges:\n" + changes).plan)
    }

    @Test func expressionsReadColumnsTheOtherPlanChanges() throws {
        let columns: Set<String> = ["id", "email", "name", "at"]
        let slug = PlanColumns(try plan("""
              - add: slug
                type: text
                backfill: "lower(email) || name || (now() AT TIME ZONE 'UTC')::text"
            """), candidates: columns)
        #expect(slug.touched == ["slug"])
        #expect(slug.referenced == ["email", "name"])
        let rename = PlanColumns(try plan("  - alter: email\n    rename_to: mail\n"), candidates: columns)
        #expect(rename.conflicts(with: slug) == [#"has expressions that read "email", which this plan changes"#])
        #expect(slug.conflicts(with: rename) == [#"changes "email", which this plan's expressions read"#])
        #expect(rename.conflicts(with: rename) == [#"also changes "email", "mail""#])
        let other = PlanColumns(try plan("  - alter: at\n    rename_to: at2\n"), candidates: columns)
        #expect(other.conflicts(with: slug).isEmpty)
    }
}
