import Testing
@testable import BellowsSQL

@Suite struct SetNotNullRuleTests {
    let id = SetNotNullRule.id

    @Test func flagsSetNotNullWithoutCheck() {
        let findings = lint("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", only: id)
        #expect(positions(findings) == ["1:38"])
        #expect(findings[0].message.contains("NOT VALID"))
    }

    /// The guide's pattern: VALIDATE scans under SHARE UPDATE EXCLUSIVE (reads and writes go on),
    /// and the SET NOT NULL right after it skips the scan (PostgreSQL 12+), in the same
    /// transaction too: its ACCESS EXCLUSIVE lock is taken after the validation, for a moment.
    @Test func fineWhenTheCheckIsValidatedInTheSameTransaction() {
        let sql = """
        ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
        ALTER TABLE users VALIDATE CONSTRAINT email_nn;
        ALTER TABLE users ALTER email SET NOT NULL;
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    /// The CHECK added NOT VALID by an earlier migration, validated in this one, then SET NOT
    /// NULL: the lint follows the constraint across migrations as it follows types.
    @Test func fineWhenAnEarlierMigrationAddedTheCheckAndThisOneValidatesIt() {
        let first = MigrationSource(path: "migrations/001_check.sql", contents: """
            ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
            """)
        let second = MigrationSource(path: "migrations/002_not_null.sql", contents: """
            ALTER TABLE users VALIDATE CONSTRAINT email_nn;
            ALTER TABLE users ALTER COLUMN email SET NOT NULL;
            """)
        let others = Set(Linter.ruleIDs).subtracting([id])
        let linter = Linter(configuration: LintConfiguration(disabledRules: others))
        #expect(linter.lint(migrations: [first, second]).isEmpty)
        // Validated by the earlier migration itself: fine as before.
        let validated = MigrationSource(path: "migrations/001_check.sql", contents: first.contents + "\nALTER TABLE users VALIDATE CONSTRAINT email_nn;")
        let setOnly = MigrationSource(path: "migrations/002_not_null.sql", contents: "ALTER TABLE users ALTER COLUMN email SET NOT NULL;")
        #expect(linter.lint(migrations: [validated, setOnly]).isEmpty)
        // Another constraint validated, or the check never validated: still a scan.
        let otherName = MigrationSource(path: "migrations/002_not_null.sql", contents: """
            ALTER TABLE users VALIDATE CONSTRAINT other_nn;
            ALTER TABLE users ALTER COLUMN email SET NOT NULL;
            """)
        #expect(positions(linter.lint(migrations: [first, otherName])) == ["2:38"])
        #expect(positions(linter.lint(migrations: [first, setOnly])) == ["1:38"])
    }

    @Test func fineWhenValidatedInAnEarlierTransactionOfTheFile() {
        let sql = """
        -- bellows:no-transaction
        ALTER TABLE users ADD CONSTRAINT email_nn CHECK ((email IS NOT NULL)) NOT VALID;
        ALTER TABLE users VALIDATE CONSTRAINT email_nn;
        BEGIN;
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;
        COMMIT;
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func fineWhenTheContextKnowsTheColumnIsNonNull() {
        let context = LintContext(notNullColumns: ["users.email"])
        #expect(lint("ALTER TABLE public.users ALTER COLUMN email SET NOT NULL;", only: id, context: context).isEmpty)
    }

    @Test func fineOnATableCreatedInTheFile() {
        #expect(lint("CREATE TABLE t (x int);\nALTER TABLE t ALTER COLUMN x SET NOT NULL;", only: id).isEmpty)
    }

    @Test func aCheckOnAnotherColumnDoesNotCount() {
        let sql = "-- bellows:no-transaction\nALTER TABLE t ADD CONSTRAINT c CHECK (y IS NOT NULL);\nALTER TABLE t ALTER x SET NOT NULL;"
        #expect(positions(lint(sql, only: id)) == ["3:23"])
    }
}
