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

    /// hostile-d 41: a materialized view or a `SELECT … INTO` table created earlier in the
    /// same file was called "an existing table", so `migrate` refused the file.
    @Test func indexesOnAMaterializedViewOrSelectIntoTableOfTheSameFileAreFine() {
        let sql = """
        CREATE TABLE src (id bigint PRIMARY KEY, v text);
        CREATE TABLE report AS SELECT id, v FROM src;
        CREATE INDEX report_id ON report (id);
        SELECT id, v INTO legacy_copy FROM src;
        CREATE INDEX legacy_copy_id ON legacy_copy (id);
        WITH x AS (SELECT id FROM src) SELECT id INTO TEMP TABLE tmp_copy FROM x;
        CREATE INDEX tmp_copy_id ON tmp_copy (id);
        CREATE MATERIALIZED VIEW IF NOT EXISTS app.mv AS SELECT id FROM src;
        CREATE UNIQUE INDEX mv_id ON app.mv (id);
        CREATE TABLE t2 (LIKE src);
        CREATE INDEX t2_id ON t2 (id);
        """
        #expect(lint(sql, only: id).map(\.description) == [])
    }

    @Test func insertIntoDoesNotCreateATableAndAMaterializedViewOfAnEarlierMigrationExists() {
        let sql = """
        INSERT INTO audit SELECT * FROM src;
        CREATE INDEX audit_id ON audit (id);
        WITH x AS (SELECT 1) INSERT INTO audit2 SELECT * FROM x;
        CREATE INDEX audit2_id ON audit2 (id);
        """
        #expect(positions(lint(sql, only: id)) == ["2:8", "4:8"])
        let others = Set(Linter.ruleIDs).subtracting([id])
        let findings = Linter(configuration: LintConfiguration(disabledRules: others)).lint(migrations: [
            MigrationSource(path: "migrations/001_mv.sql", contents: "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS id;"),
            MigrationSource(path: "migrations/002_index.sql", contents: "CREATE UNIQUE INDEX mv_id ON mv (id);"),
        ])
        #expect(findings.map(\.file) == ["migrations/002_index.sql"])
    }
}
