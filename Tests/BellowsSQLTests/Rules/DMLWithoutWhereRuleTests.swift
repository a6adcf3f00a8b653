import Testing
@testable import BellowsSQL

@Suite struct DMLWithoutWhereRuleTests {
    let id = DMLWithoutWhereRule.id

    @Test func flagsUpdateAndDeleteWithoutWhere() {
        let sql = """
        UPDATE users SET email_lower = lower(email);
        DELETE FROM ONLY sessions;
        UPDATE t SET x = (SELECT y FROM z WHERE z.id = 1);
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:1", "2:1", "3:1"])
        #expect(findings[0].severity == .warning)
        #expect(findings[0].message.contains("batches"))
    }

    @Test func whereClauseIsFine() {
        #expect(lint("UPDATE users SET a = 1 WHERE id BETWEEN 1 AND 1000;\nDELETE FROM sessions WHERE expires_at < now();", only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\nUPDATE t SET a = 2;", only: id).isEmpty)
    }

    @Test func bodiesAndStringsAreSilent() {
        let sql = """
        CREATE FUNCTION touch() RETURNS void LANGUAGE sql AS $$ UPDATE t SET x = 1 $$;
        SELECT 'DELETE FROM users';
        COMMENT ON TABLE t IS 'UPDATE t SET x = 1';
        """
        #expect(lint(sql, only: id).isEmpty)
    }
}
