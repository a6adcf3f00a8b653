import BellowsSQL
import Testing
@testable import BellowsPlan

/// Stored generated columns (hostile-d 17 and 21): PostgreSQL computes them after BEFORE row
/// triggers, so an `up`, `backfill` or `down` reading one sees NULL in the dual-write trigger;
/// and a plan cannot rebuild one (the new column would lose its expression). `check` refuses
/// both, at the place in the plan, under `plan-generated-column`.
@Suite struct GeneratedColumnPlanTests {
    static let catalog = MigrationSchema.catalog(fromMigrations: ["""
        CREATE TABLE people (id bigint PRIMARY KEY, first text, last text,
          full_name text GENERATED ALWAYS AS (coalesce(first, '') || ' ' || coalesce(last, '')) STORED,
          nick text, cents int, euros numeric GENERATED ALWAYS AS (cents / 100.0) STORED);
        """])

    func findings(_ plan: String, rule: String = "plan-generated-column") -> [Finding] {
        check([("010_p.yaml", plan)], migrations: [], catalog: Self.catalog).filter { $0.rule == rule }
    }

    @Test func anUpReadingAGeneratedColumnIsAnError() {
        let found = findings("""
            table: people
            changes:
              - alter: nick
                rename_to: nickname
                up: "coalesce(nick, full_name)"
                down: "nickname"
                not_null: true
            """)
        #expect(summary(found) == ["5:25 plan-generated-column"])
        #expect(found.first?.severity == .error)
        #expect(found.first?.message.contains("NULL") == true)
    }

    @Test func aBackfillReadingAGeneratedColumnIsAnError() {
        #expect(summary(findings("""
            table: people
            changes:
              - add: label
                type: text
                backfill: "upper(full_name)"
            """)) == ["5:22 plan-generated-column"])
    }

    @Test func renamingOrRetypingAGeneratedColumnIsAnError() {
        let renamed = findings("""
            table: people
            changes:
              - alter: full_name
                rename_to: display_name
            """)
        #expect(summary(renamed) == ["3:12 plan-generated-column"])
        #expect(renamed.first?.message.contains("migration") == true)
        #expect(summary(findings("""
            table: people
            changes:
              - alter: euros
                type: numeric(12,2)
                up: "euros::numeric(12,2)"
                down: "euros::numeric"
            """)) == ["3:12 plan-generated-column"])
    }

    @Test func renderDoesNotCarryANotNullTheGeneratedColumnDoesNotHave() {
        // Only the rule's refusal, no carried NOT NULL or default (plan-default-type) besides.
        let all = check([("010_p.yaml", """
            table: people
            changes:
              - alter: euros
                type: numeric(12,2)
                up: "euros::numeric(12,2)"
                down: "euros::numeric"
            """)], migrations: [], catalog: Self.catalog).filter { $0.severity == .error }
        #expect(all.map(\.rule) == ["plan-generated-column"])
    }

    @Test func readingOrdinaryColumnsIsFine() {
        #expect(findings("""
            table: people
            changes:
              - alter: nick
                rename_to: nickname
                up: "coalesce(nick, coalesce(first, '') || ' ' || coalesce(last, ''))"
                down: "nickname"
            """).isEmpty)
    }
}
