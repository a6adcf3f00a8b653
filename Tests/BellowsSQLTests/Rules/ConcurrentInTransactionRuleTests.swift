import Testing
@testable import BellowsSQL

@Suite struct ConcurrentInTransactionRuleTests {
    let id = ConcurrentInTransactionRule.id

    @Test func catchesTheGuidesDefect() {
        let findings = lint("BEGIN;\nCREATE INDEX CONCURRENTLY idx ON t(x);\nCOMMIT;\n", only: id)
        #expect(positions(findings) == ["2:14"])
        #expect(findings[0].severity == .error)
        #expect(findings[0].message.contains("cannot run inside a transaction block"))
    }

    @Test func catchesOtherConcurrentAndNonTransactionalStatements() {
        let sql = """
        BEGIN;
        DROP INDEX CONCURRENTLY i;
        REINDEX INDEX CONCURRENTLY j;
        ALTER TABLE p DETACH PARTITION c CONCURRENTLY;
        VACUUM t;
        COMMIT;
        """
        #expect(positions(lint(sql, only: id)) == ["2:12", "3:15", "4:34", "5:1"])
    }

    @Test func concurrentIndexAloneIsFine() {
        #expect(lint("CREATE INDEX CONCURRENTLY idx ON t (x);\n", only: id).isEmpty)
        #expect(lint("CREATE INDEX CONCURRENTLY a ON t (x);\nCREATE INDEX CONCURRENTLY b ON t (y);", only: id).isEmpty)
    }

    @Test func statementAfterCommitIsOutsideTheBlock() {
        #expect(lint("BEGIN;\nSELECT 1;\nCOMMIT;\nCREATE INDEX CONCURRENTLY i ON t (x);", only: id).isEmpty)
    }

    @Test func textInStringsIsNotAStatement() {
        #expect(lint("BEGIN;\nSELECT 'CREATE INDEX CONCURRENTLY i ON t(x)';\nCOMMIT;", only: id).isEmpty)
    }
}
