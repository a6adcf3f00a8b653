import BellowsSQL
import Testing
@testable import BellowsPlan

/// A column named like one of PostgreSQL's parameterless functions (`user`, `current_date`…)
/// must be quoted in expressions: unquoted, the word is the function, the same in the trigger,
/// the backfill and verify, so every row would get the current role's name and verify agree.
@Suite struct KeywordColumnTests {
    static let catalog = MigrationSchema.catalog(fromMigrations: [
        #"CREATE TABLE k (id bigint PRIMARY KEY, "user" text NOT NULL, current_date date);"#,
    ])

    func findings(_ plan: String) -> [Finding] {
        check([("010_k.yaml", plan)], migrations: [], catalog: Self.catalog).filter { $0.rule == "plan-keyword-column" }
    }

    @Test func unquotedUserColumnIsAnErrorAtItsCharacter() {
        let found = findings("""
            table: k
            changes:
              - alter: user
                rename_to: username
                up: "upper(user)"
                down: "lower(username)"
            """)
        #expect(summary(found) == ["5:16 plan-keyword-column"])
        #expect(found.first?.severity == .error)
        #expect(found.first?.message.contains(#"write "user" for the column"#) == true)
    }

    @Test func quotedColumnAndKeywordWithoutSuchColumnAreFine() {
        #expect(findings("""
            table: k
            changes:
              - alter: user
                rename_to: username
                up: 'upper("user")'
                down: "lower(username) || current_user"
            """).isEmpty)
    }

    @Test func anotherKeywordColumnInACheck() {
        let found = findings("""
            table: k
            changes:
              - alter: current_date
                not_null: true
                up: "coalesce(current_date, DATE '2020-01-01')"
            """)
        #expect(summary(found) == ["5:19 plan-keyword-column"])
    }
}
