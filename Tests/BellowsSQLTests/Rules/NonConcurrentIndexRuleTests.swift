import Testing
@testable import BellowsSQL

@Suite struct NonConcurrentIndexRuleTests {
    let id = NonConcurrentIndexRule.id

    @Test func flagsIndexOnExistingTable() {
        let findings = lint("SET lock_timeout = '2s';\nCREATE UNIQUE INDEX IF NOT EXISTS idx ON ONLY public.users (email);", only: id)
        #expect(positions(findings) == ["2:15"])
        #expect(findings[0].message.contains("`public.users`"))
        #expect(findings[0].message.contains("CONCURRENTLY"))
    }

    @Test func indexOnTableCreatedInTheSameFileIsFine() {
        let sql = "CREATE TABLE orders (id bigint);\nCREATE INDEX orders_id ON orders (id);"
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func indexBeforeTheCreateTableStillCounts() {
        let sql = "CREATE INDEX i ON orders (id);\nCREATE TABLE orders2 (id bigint);"
        #expect(positions(lint(sql, only: id)) == ["1:8"])
    }

    @Test func concurrentIndexIsFine() {
        #expect(lint("CREATE INDEX CONCURRENTLY i ON users (email);", only: id).isEmpty)
    }

    @Test func knownTablesWhenUnknownTablesAreNew() {
        let context = LintContext(existingTables: ["users"], unknownTablesExist: false)
        let sql = "CREATE INDEX a ON users (x);\nCREATE INDEX b ON brand_new (x);"
        #expect(positions(lint(sql, only: id, context: context)) == ["1:8"])
    }
}
