import Testing
@testable import BellowsSQL

@Suite struct ValidateInSameTransactionRuleTests {
    let id = ValidateInSameTransactionRule.id

    @Test func flagsValidateInTheSameTransaction() {
        let sql = """
        ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT positive;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["2:20"])
        #expect(findings[0].message.contains("line 1"))
    }

    @Test func flagsInsideOneExplicitBlockOfANonTransactionalFile() {
        let sql = """
        -- bellows:no-transaction
        BEGIN;
        ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT positive;
        COMMIT;
        """
        #expect(positions(lint(sql, only: id)) == ["4:20"])
    }

    @Test func separateTransactionsAreFine() {
        let sql = """
        -- bellows:no-transaction
        ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT positive;
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func validateAloneIsFine() {
        #expect(lint("ALTER TABLE orders VALIDATE CONSTRAINT positive;", only: id).isEmpty)
    }
}
