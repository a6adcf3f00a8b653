import BellowsSQL
import Testing
@testable import BellowsPlan

/// A column named like one of PostgreSQL's parameterless functions (`user`, `current_date`…)
/// must be quoted in expressions: unquoted, the word is the function, the same in the trigger,
/// the backfill and verify, so every row would get the current role's name and verify agree.
@Suite struct KeywordColumnTests {
    static let catalog = MigrationSchema.catalog(fromMigrations: [
        #"CREATE TABLE k (id bigint PRIMARY KEY, "user" text NOT NULL, current_date date, "system_user" text, owner text, "null" text);"#,
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

    /// PostgreSQL 16 made `SYSTEM_USER` a function without parentheses (hostile-d 26): every
    /// `owned_by` became the session's authentication identity.
    @Test func systemUserIsAKeywordColumnToo() {
        let found = findings("""
            table: k
            changes:
              - alter: owner
                rename_to: owned_by
                up: "coalesce(owner, system_user)"
                down: "owned_by"
              - alter: current_date
                check: "system_user <> ''"
            """)
        #expect(summary(found) == ["5:26 plan-keyword-column", "8:13 plan-keyword-column"])
        #expect(found.first?.message.contains("SYSTEM_USER") == true)
        #expect(found.first?.message.contains(#"write "system_user" for the column"#) == true)
    }

    /// `null` (and `true`, `false`) unquoted are constants, whatever columns the table has.
    @Test func aColumnNamedNullIsNotTheConstant() {
        let found = findings("""
            table: k
            changes:
              - alter: owner
                rename_to: owned_by
                up: "coalesce(owner, null)"
                down: "owned_by"
            """)
        #expect(summary(found) == ["5:26 plan-keyword-column"])
        #expect(found.first?.message.contains(#"write "null" for the column"#) == true)
    }

    /// Every word of the list is one PostgreSQL reads as a value, never as a column.
    @Test func theListHoldsTheSQLValueFunctions() {
        for word in ["current_date", "current_time", "current_timestamp", "localtime", "localtimestamp", "current_role",
                     "current_user", "session_user", "user", "current_catalog", "current_schema", "system_user"] {
            #expect(TransitionCompiler.valueKeywords.contains(word.uppercased()), "\(word)")
        }
    }
}
