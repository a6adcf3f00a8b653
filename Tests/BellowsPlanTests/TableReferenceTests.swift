import BellowsSQL
import Testing
@testable import BellowsPlan

/// The dual-write trigger evaluates `up`, `backfill` and `down` over the written row
/// (`FROM (SELECT NEW.*) AS bellows_row`), where the table's name is not in scope and there are
/// no system columns: `lower(users.email)`, `to_jsonb(users)` or `tableoid` made every write
/// fail from expand on (hostile-d 27). `check` refuses them at their character.
@Suite struct TableReferenceTests {
    static let catalog = MigrationSchema.catalog(fromMigrations: [
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, prefs jsonb);",
        "CREATE TABLE status (id bigint PRIMARY KEY, status text, note text);",
    ])

    func findings(_ plan: String) -> [Finding] {
        check([("010_u.yaml", plan)], migrations: [], catalog: Self.catalog).filter { $0.rule == "plan-table-reference" }
    }

    @Test func aTableQualifiedColumnIsAnErrorWithAHint() {
        let found = findings("""
            table: users
            changes:
              - alter: email
                rename_to: email_lower
                up: "lower(users.email)"
                down: "email_lower"
            """)
        #expect(summary(found) == ["5:16 plan-table-reference"])
        #expect(found.first?.severity == .error)
        #expect(found.first?.message.contains("write email, not users.email") == true)
    }

    @Test func aSchemaQualifiedColumnToo() {
        #expect(summary(findings("""
            table: users
            changes:
              - alter: email
                rename_to: email_lower
                up: "lower(public.users.email)"
                down: "email_lower"
            """)) == ["5:23 plan-table-reference"])
    }

    @Test func aWholeRowReferenceIsAnError() {
        let found = findings("""
            table: users
            changes:
              - add: profile
                type: jsonb
                backfill: "jsonb_build_object('email', email, 'row', to_jsonb(users) - 'profile')"
            """)
        #expect(summary(found) == ["5:67 plan-table-reference"])
        #expect(found.first?.message.contains("whole row") == true)
    }

    @Test func aSystemColumnIsAnError() {
        let found = findings("""
            table: users
            changes:
              - add: origin
                type: text
                backfill: "tableoid::regclass::text || xmin::text"
            """)
        #expect(summary(found) == ["5:16 plan-table-reference", "5:44 plan-table-reference"])
        #expect(found.first?.message.contains("system column") == true)
    }

    @Test func theTableNameAsAColumnFunctionTypeOrFieldIsFine() {
        // A column named like its table, a function or a type named like it, a field of a composite value.
        #expect(findings("""
            table: status
            changes:
              - alter: status
                rename_to: state
                up: "upper(status)"
                down: "lower(state)"
            """).isEmpty)
        #expect(findings("""
            table: users
            changes:
              - add: label
                type: text
                backfill: "users(email) || '(1,a)'::users || (prefs).users || \\"users\\"()"
            """).isEmpty)
    }

    @Test func checksMayNameTheTable() {
        // A plan's checks are queries of their own; an add_check is a constraint of the table.
        #expect(findings("""
            table: users
            changes:
              - alter: email
                not_null: true
                up: "coalesce(email, '')"
              - add_check: "users.email <> 'x'"
            checks:
              - name: none-empty
                sql: "SELECT count(*) FROM users WHERE users.email = ''"
                expect: 0
            """).isEmpty)
    }
}
