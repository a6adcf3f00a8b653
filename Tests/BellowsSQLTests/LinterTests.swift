import Testing
@testable import BellowsSQL

@Suite struct LinterTests {
    @Test func ruleIDsAreUniqueKebabCase() {
        let ids = Linter.ruleIDs
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.allSatisfy { $0.isLowercase || $0 == "-" }, "\(id)")
            #expect(Linter.rule(id: id) != nil)
        }
        #expect(Linter.ruleDescriptions.count == ids.count)
    }

    @Test func findingsCarryPathRuleAndSortedPositions() {
        let sql = "ALTER TABLE users RENAME COLUMN a TO b;\nCREATE INDEX i ON users (x);"
        let findings = Linter().lint(path: "migrations/007_x.sql", contents: sql)
        #expect(findings.map(\.rule) == ["missing-lock-timeout", "rename-column", "non-concurrent-index"])
        #expect(findings.allSatisfy { $0.file == "migrations/007_x.sql" })
        #expect(positions(findings) == ["1:1", "1:19", "2:8"])
    }

    @Test func configurationDisablesAndOverrides() {
        let sql = "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN a;\nDROP TABLE old;"
        let config = LintConfiguration(disabledRules: ["drop-table"], severityOverrides: ["drop-column": .error])
        let findings = Linter(configuration: config).lint(path: "010_x.sql", contents: sql)
        #expect(findings.map(\.rule) == ["drop-column"])
        #expect(findings[0].severity == .error)
        #expect(findings.hasErrors)
    }

    @Test func unknownRuleIDsInConfiguration() {
        let config = LintConfiguration(disabledRules: ["drop-colum"], severityOverrides: ["drop-table": .info, "nope": .error])
        #expect(config.unknownRuleIDs == ["drop-colum", "nope"])
    }

    @Test func ignoreCommentBeforeAStatement() {
        let sql = """
        SET lock_timeout = '1s';
        -- bellows:ignore drop-column, drop-table: unused since v2.3
        ALTER TABLE users DROP COLUMN legacy;
        ALTER TABLE users DROP COLUMN other;
        """
        let findings = Linter().lint(path: "010_x.sql", contents: sql)
        #expect(findings.map(\.rule) == ["drop-column"])
        #expect(findings[0].line == 4)
    }

    @Test func ignoreCommentOnTheSameLineAfterTheStatement() {
        let sql = "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN legacy; -- bellows:ignore drop-column\nALTER TABLE users DROP COLUMN b;"
        let findings = Linter().lint(path: "010_x.sql", contents: sql)
        #expect(positions(findings) == ["3:19"])
    }

    @Test func ignoreCommentInsideAStatement() {
        let sql = "SET lock_timeout = '1s';\nALTER TABLE users\n  -- bellows:ignore rename-column\n  RENAME COLUMN a TO b;"
        #expect(Linter().lint(path: "010_x.sql", contents: sql).isEmpty)
    }

    @Test func ignoreOnlyNamedRules() {
        let sql = "-- bellows:ignore drop-column\nALTER TABLE users RENAME COLUMN a TO b;"
        #expect(Linter().lint(path: "010_x.sql", contents: sql).map(\.rule) == ["missing-lock-timeout", "rename-column"])
    }

    @Test func ignoreAll() {
        let sql = "-- bellows:ignore all\nALTER TABLE users RENAME COLUMN a TO b;"
        #expect(Linter().lint(path: "010_x.sql", contents: sql).isEmpty)
    }

    @Test func ignoreFile() {
        let sql = "-- bellows:ignore-file missing-lock-timeout, missing-rollback\nALTER TABLE users DROP COLUMN a;\n"
        let findings = Linter().lint(path: "010_x.sql", contents: sql, context: LintContext(hasRollbackFile: false))
        #expect(findings.map(\.rule) == ["drop-column"])
    }

    @Test func textThatLooksLikeDDLNeverProducesFindings() {
        let sql = """
        -- CREATE INDEX foo ON bar (x); ALTER TABLE t DROP COLUMN c; UPDATE t SET x = 1;
        /* VACUUM FULL t; ALTER TABLE t RENAME TO u; /* nested DROP TABLE t; */ */
        SELECT 'CREATE INDEX foo ON bar(x)', E'ALTER TABLE t DROP COLUMN c\\'', $$DROP TABLE t$$;
        SELECT "ALTER TABLE t DROP COLUMN c" FROM "UPDATE t SET x = 1";
        CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $fn$
          UPDATE t SET x = 1;
          DELETE FROM t;
          ALTER TABLE t ALTER COLUMN x SET NOT NULL;
        $fn$;
        COMMENT ON FUNCTION f() IS 'VACUUM FULL; CLUSTER; BEGIN; CREATE INDEX CONCURRENTLY i ON t(x); COMMIT';
        DO $$ BEGIN RAISE NOTICE 'COMMIT'; EXECUTE 'CREATE INDEX i ON t (x)'; END $$;
        """
        #expect(Linter().lint(path: "010_quiet.sql", contents: sql).isEmpty)
    }

    @Test func guideSafeNotNullPatternAcrossMigrations() {
        let migrations = [
            MigrationSource(path: "m/001_initial_schema.sql", contents: "CREATE TABLE t (id bigint PRIMARY KEY, x int);", hasRollbackFile: true),
            MigrationSource(path: "m/002_check_x.sql", contents: "SET lock_timeout = '2s';\nALTER TABLE t ADD CONSTRAINT c CHECK (x IS NOT NULL) NOT VALID;", hasRollbackFile: true),
            MigrationSource(path: "m/003_validate_x.sql", contents: "SET lock_timeout = '2s';\nALTER TABLE t VALIDATE CONSTRAINT c;", hasRollbackFile: true),
            MigrationSource(path: "m/004_x_not_null.sql", contents: "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN x SET NOT NULL;", hasRollbackFile: true),
        ]
        #expect(Linter().lint(migrations: migrations).isEmpty)
        // Without the validation step, the SET NOT NULL is flagged.
        let skipped = [migrations[0], migrations[1], MigrationSource(path: "m/003_x_not_null.sql", contents: migrations[3].contents, hasRollbackFile: true)]
        let findings = Linter().lint(migrations: skipped)
        #expect(findings.map(\.rule) == ["set-not-null-without-check"])
        #expect(findings.first?.file == "m/003_x_not_null.sql")
    }

    @Test func guideSafeConcurrentIndexAlone() {
        #expect(Linter().lint(path: "005_idx.sql", contents: "CREATE INDEX CONCURRENTLY idx_t_x ON t (x);\n").isEmpty)
    }

    @Test func guideDefectIsCaught() {
        let findings = Linter().lint(path: "005_idx.sql", contents: "BEGIN;\nCREATE INDEX CONCURRENTLY idx ON t(x);\nCOMMIT;\n")
        #expect(findings.map(\.rule) == ["concurrent-in-transaction"])
        #expect(findings.hasErrors)
        #expect(findings[0].description == "005_idx.sql:2:14: error: \(findings[0].message) [concurrent-in-transaction]")
    }

    @Test func sequenceFindsTheSameAsEachFileWithTheWholeContext() {
        let migrations = [
            MigrationSource(path: "m/001_a.sql", contents: "CREATE TABLE t (id bigint PRIMARY KEY, x varchar(10));", hasRollbackFile: true),
            MigrationSource(path: "m/002_b.sql", contents: "ALTER TABLE t ALTER COLUMN x TYPE varchar(5);", hasRollbackFile: false),
            MigrationSource(path: "m/002_c.sql", contents: "DROP TABLE t;"),
            MigrationSource(path: "m/005_e.sql", contents: "ALTER TABLE t ADD COLUMN y int NOT NULL;", hasRollbackFile: true),
        ]
        let names = ["001_a.sql", "002_b.sql", "002_c.sql", "005_e.sql"]
        var history = SchemaHistory()
        var oneByOne: [Finding] = []
        for (source, name) in zip(migrations, names) {
            oneByOne += Linter().lint(path: source.path, contents: source.contents,
                                      context: history.context(fileName: name, hasRollbackFile: source.hasRollbackFile, allMigrationFileNames: names))
            history.record(source.contents)
        }
        let findings = Linter().lint(migrations: migrations)
        #expect(findings == oneByOne)
        #expect(Set(findings.map(\.rule)).isSuperset(of: ["migration-duplicate-number", "migration-number-gap", "column-type-rewrite", "missing-rollback"]))
    }

    @Test func schemaHistoryContextKeepsTheBase() {
        var history = SchemaHistory()
        history.record("CREATE TABLE t (id int NOT NULL, v varchar(10));")
        let base = LintContext(fileName: "000_base.sql", existingTables: ["old"], unknownTablesExist: false,
                               allMigrationFileNames: ["001_a.sql", "003_c.sql"], runnerSetsLockTimeout: true)
        let context = history.context(fileName: "003_c.sql", hasRollbackFile: false, base: base)
        var expected = history.context(fileName: "003_c.sql", hasRollbackFile: false,
                                       allMigrationFileNames: ["001_a.sql", "003_c.sql"], unknownTablesExist: false)
        expected.runnerSetsLockTimeout = true
        #expect(context == expected)
        #expect(context.existingTables == ["t"])
    }

    @Test func schemaHistoryTracksTablesAndRenames() {
        var history = SchemaHistory()
        history.record("""
        CREATE TABLE public.a (id int NOT NULL, v varchar(10));
        CREATE TABLE b (id int);
        DROP TABLE b;
        ALTER TABLE a RENAME COLUMN v TO w;
        ALTER TABLE a RENAME TO c;
        """)
        #expect(history.tables == ["c", "public.c"])
        #expect(history.columnTypes == ["c.id": "int4", "c.w": "varchar(10)"])
        #expect(history.notNullColumns == ["c.id"])
    }
}
