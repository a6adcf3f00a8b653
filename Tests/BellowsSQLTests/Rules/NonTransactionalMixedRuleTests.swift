import Testing
@testable import BellowsSQL

@Suite struct NonTransactionalMixedRuleTests {
    let id = NonTransactionalMixedRule.id

    @Test func flagsWorkBesidesTheNonTransactionalStatement() {
        let sql = "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON t (x);\nALTER TABLE t ADD COLUMN y int;"
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["3:1"])
        #expect(findings[0].message.contains("CREATE INDEX CONCURRENTLY` at line 2"))
    }

    @Test func aloneOrWithSettingsIsFine() {
        #expect(lint("SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON t (x);\nRESET lock_timeout;", only: id).isEmpty)
        #expect(lint("BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (x);\nCOMMIT;", only: id).isEmpty)
    }

    @Test func transactionalFilesAreNotThisRule() {
        #expect(lint("ALTER TABLE t ADD COLUMN a int;\nALTER TABLE t ADD COLUMN b int;", only: id).isEmpty)
    }
}
