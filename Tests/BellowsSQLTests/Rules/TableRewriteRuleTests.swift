import Testing
@testable import BellowsSQL

/// hostile-d 09: SET TABLESPACE / SET LOGGED / SET UNLOGGED / SET ACCESS METHOD passed lint.
@Suite struct TableRewriteRuleTests {
    let id = TableRewriteRule.id

    @Test func flagsEachRewriteOfAnExistingTable() {
        let sql = """
        ALTER TABLE t SET TABLESPACE pg_default;
        ALTER TABLE t SET UNLOGGED;
        ALTER TABLE IF EXISTS ONLY app.t SET LOGGED;
        ALTER TABLE t SET ACCESS METHOD heap;
        ALTER TABLE t ADD COLUMN x int, SET LOGGED;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:19", "2:19", "3:38", "4:19", "5:37"])
        #expect(findings[0].message.contains("pg_repack") && findings[0].message.contains("ACCESS EXCLUSIVE"))
        #expect(findings.allSatisfy { $0.severity == .error })
    }

    @Test func otherSetActionsAndNewTablesAreFine() {
        let sql = """
        CREATE TABLE n (id int);
        ALTER TABLE n SET UNLOGGED;
        ALTER TABLE t SET (fillfactor = 70);
        ALTER TABLE t SET SCHEMA app;
        ALTER TABLE t ALTER COLUMN a SET STATISTICS 500;
        SELECT 'ALTER TABLE t SET LOGGED';
        """
        #expect(lint(sql, only: id).isEmpty)
    }
}
