import Testing
@testable import BellowsSQL

@Suite struct MigrationFileTests {
    @Test func readsTheHeader() {
        let sql = """
        -- Migration: 003_add_x
        -- Description: Adds x: a column
        -- Dependencies: 001_initial_schema, 002_foo
        ALTER TABLE t ADD COLUMN x int;
        -- Migration: not_a_header
        """
        let header = MigrationFile.analyze(sql).header
        #expect(header.migration == "003_add_x")
        #expect(header.description == "Adds x: a column")
        #expect(header.dependencies == ["001_initial_schema", "002_foo"])
        #expect(header.migrationLine == 1)
    }

    @Test func noneAndEmptyDependencies() {
        #expect(MigrationFile.parseHeader("-- Dependencies: none\nSELECT 1").dependencies == [])
        #expect(MigrationFile.parseHeader("-- Dependencies:\nSELECT 1").dependencies == [])
        #expect(MigrationFile.parseHeader("SELECT 1").migration == nil)
    }

    @Test func transactionalByDefault() {
        let analysis = MigrationFile.analyze("ALTER TABLE t ADD COLUMN x int;\nCREATE INDEX i ON t (x);")
        #expect(analysis.transactionMode == .transactional)
        #expect(!analysis.explicitTransactionControl)
    }

    @Test func concurrentIndexMakesTheFileNonTransactional() {
        let analysis = MigrationFile.analyze("-- Migration: 004_idx\n\nCREATE INDEX CONCURRENTLY idx ON t (x);")
        #expect(analysis.transactionMode == .nonTransactional(reason: "`CREATE INDEX CONCURRENTLY` at line 3 cannot run inside a transaction block"))
    }

    @Test func directiveMakesTheFileNonTransactional() {
        let analysis = MigrationFile.analyze("SELECT 1;\n-- bellows:no-transaction\nSELECT 2;")
        #expect(analysis.transactionMode == .nonTransactional(reason: "the file has a `-- bellows:no-transaction` directive (line 2)"))
    }

    @Test func recognizesNonTransactionalStatements() {
        let yes = ["CREATE UNIQUE INDEX CONCURRENTLY i ON t (x)", "DROP INDEX CONCURRENTLY IF EXISTS i",
                   "REINDEX INDEX CONCURRENTLY i", "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
                   "ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "VACUUM ANALYZE t", "vacuum",
                   "CREATE DATABASE d", "DROP DATABASE d", "ALTER SYSTEM SET work_mem = '64MB'",
                   "CREATE TABLESPACE s LOCATION '/x'", "CLUSTER", "CLUSTER VERBOSE", "REINDEX DATABASE d"]
        let no = ["CREATE INDEX i ON t (x)", "DROP INDEX i", "REINDEX INDEX i", "ALTER TABLE p DETACH PARTITION c",
                  "CLUSTER t USING i", "CLUSTER t", "SELECT 'VACUUM'", "CREATE TABLE concurrently (x int)",
                  "ALTER DATABASE d SET work_mem = '1MB'"]
        for sql in yes { #expect(MigrationFile.isNonTransactional(StatementSplitter.split(sql)[0]), "\(sql)") }
        for sql in no { #expect(!MigrationFile.isNonTransactional(StatementSplitter.split(sql)[0]), "\(sql)") }
    }

    @Test func flagsAndStripsTransactionControl() {
        let sql = """
        BEGIN;
        SAVEPOINT a;
        ALTER TABLE t ADD COLUMN x int;
        ROLLBACK TO SAVEPOINT a;
        COMMIT;
        START TRANSACTION ISOLATION LEVEL SERIALIZABLE;
        END;
        begin work;
        rollback;
        """
        let analysis = MigrationFile.analyze(sql)
        #expect(analysis.explicitTransactionControl)
        #expect(analysis.executableStatements.map(\.text) == ["SAVEPOINT a", "ALTER TABLE t ADD COLUMN x int", "ROLLBACK TO SAVEPOINT a"])
        #expect(analysis.statements.filter(MigrationFile.isTransactionControl).count == 6)
    }

    @Test func reindexConcurrentlyInOptionFormIsNonTransactional() {
        for sql in ["REINDEX (CONCURRENTLY) INDEX i", "REINDEX (VERBOSE, CONCURRENTLY true) TABLE t", "reindex (concurrently) table t"] {
            #expect(MigrationFile.isNonTransactional(StatementSplitter.split(sql)[0]), "\(sql)")
        }
        #expect(!MigrationFile.isNonTransactional(StatementSplitter.split("REINDEX (CONCURRENTLY false) TABLE t")[0]))
    }

    @Test func dependenciesMayBeWrittenAsFileNames() {
        let header = MigrationFile.parseHeader("-- Dependencies: 001_t.sql, migrations/002_u.SQL, 003_v, plan:004_x\nSELECT 1;\n")
        #expect(header.dependencies == ["001_t", "002_u", "003_v", "plan:004_x"])
    }
}
