import Testing
@testable import BellowsSQL

@Suite struct SetNotNullRuleTests {
    let id = SetNotNullRule.id

    @Test func flagsSetNotNullWithoutCheck() {
        let findings = lint("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", only: id)
        #expect(positions(findings) == ["1:38"])
        #expect(findings[0].message.contains("NOT VALID"))
    }

    @Test func flagsWhenTheCheckIsValidatedInTheSameTransaction() {
        let sql = """
        ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
        ALTER TABLE users VALIDATE CONSTRAINT email_nn;
        ALTER TABLE users ALTER email SET NOT NULL;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["3:31"])
        #expect(findings[0].message.contains("same transaction"))
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
