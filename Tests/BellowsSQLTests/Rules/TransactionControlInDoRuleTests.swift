import Testing
@testable import BellowsSQL

@Suite struct TransactionControlInDoRuleTests {
    let id = TransactionControlInDoRule.id

    @Test func flagsCommitInADoBodyOfATransactionalFile() {
        let sql = """
        DO $$
        BEGIN
          FOR i IN 1..10 LOOP
            UPDATE t SET x = 1 WHERE id = i;
            COMMIT;
          END LOOP;
        END $$;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["5:5"])
        #expect(findings[0].message.contains("invalid transaction termination"))
    }

    @Test func positionOnTheFirstLineOfTheBody() {
        #expect(positions(lint("SELECT 1;\nDO $body$ BEGIN ROLLBACK; END $body$;", only: id)) == ["2:17"])
    }

    @Test func nonTransactionalFileIsFine() {
        let sql = "-- bellows:no-transaction\nDO $$ BEGIN COMMIT; END $$;"
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func explicitBlockInANonTransactionalFileIsFlagged() {
        let sql = "-- bellows:no-transaction\nBEGIN;\nDO $$ BEGIN COMMIT; END $$;\nCOMMIT;"
        #expect(positions(lint(sql, only: id)) == ["3:13"])
    }

    @Test func commitInStringsOrCommentsOfTheBodyIsFine() {
        let sql = "DO $$ BEGIN RAISE NOTICE 'COMMIT'; -- COMMIT\n PERFORM 1; END $$;"
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func procedureBodiesAreNotDoBlocks() {
        #expect(lint("CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;", only: id).isEmpty)
    }
}
