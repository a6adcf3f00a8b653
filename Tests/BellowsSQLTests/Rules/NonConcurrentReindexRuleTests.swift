import Testing
@testable import BellowsSQL

/// hostile-d 09: REINDEX TABLE / INDEX without CONCURRENTLY passed lint.
@Suite struct NonConcurrentReindexRuleTests {
    let id = NonConcurrentReindexRule.id

    @Test func flagsReindexWithoutConcurrently() {
        let sql = "REINDEX TABLE t;\nREINDEX INDEX t_pkey;\nREINDEX (VERBOSE) SCHEMA app;\nREINDEX SYSTEM;"
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:1", "2:1", "3:1", "4:1"])
        #expect(findings[0].message.contains("REINDEX TABLE CONCURRENTLY"))
        #expect(findings[1].message.contains("REINDEX INDEX CONCURRENTLY"))
        #expect(findings[3].message.contains("no CONCURRENTLY form"))
    }

    @Test func concurrentReindexAndNewTablesAreFine() {
        let sql = """
        REINDEX TABLE CONCURRENTLY t;
        REINDEX (CONCURRENTLY) INDEX t_pkey;
        REINDEX (VERBOSE, CONCURRENTLY true) SCHEMA app;
        CREATE TABLE n (id int PRIMARY KEY);
        REINDEX TABLE n;
        """
        #expect(lint(sql, only: id).isEmpty)
    }
}
