import Testing
@testable import BellowsSQL

@Suite struct EnumValueInTransactionRuleTests {
    let id = EnumValueInTransactionRule.id

    @Test func flagsUseOfTheNewValueInTheSameTransaction() {
        let sql = """
        ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded' AFTER 'paid';
        UPDATE orders SET status = 'refunded' WHERE refunded_at IS NOT NULL;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["2:28"])
        #expect(findings[0].message.contains("unsafe use of new value"))
        #expect(findings[0].message.contains("line 1"))
    }

    @Test func addingWithoutUsingIsFine() {
        #expect(lint("ALTER TYPE order_status ADD VALUE 'refunded';\nUPDATE orders SET status = 'paid' WHERE id = 1;", only: id).isEmpty)
    }

    @Test func separateTransactionsAreFine() {
        let sql = """
        -- bellows:no-transaction
        ALTER TYPE order_status ADD VALUE 'refunded';
        UPDATE orders SET status = 'refunded' WHERE refunded_at IS NOT NULL;
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func usesInsideFunctionBodiesAreNotEvaluatedNow() {
        let sql = """
        ALTER TYPE s ADD VALUE 'x';
        CREATE FUNCTION f() RETURNS s LANGUAGE sql AS $$ SELECT 'x'::s $$;
        """
        #expect(lint(sql, only: id).isEmpty)
    }
}
