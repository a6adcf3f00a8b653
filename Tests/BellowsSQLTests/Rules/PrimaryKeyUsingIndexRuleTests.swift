import Testing
@testable import BellowsSQL

/// hostile-d 09: PRIMARY KEY USING INDEX over a nullable column passed lint (PostgreSQL then
/// sets NOT NULL with a full scan under ACCESS EXCLUSIVE).
@Suite struct PrimaryKeyUsingIndexRuleTests {
    let id = PrimaryKeyUsingIndexRule.id

    static let schema = MigrationSource(path: "migrations/001_schema.sql", contents: """
        CREATE TABLE t (id bigint NOT NULL, a int, b text);
        """)

    func lintAfterSchema(_ sql: String) -> [Finding] {
        let others = Set(Linter.ruleIDs).subtracting([id])
        return Linter(configuration: LintConfiguration(disabledRules: others))
            .lint(migrations: [Self.schema, MigrationSource(path: "migrations/002_pk.sql", contents: sql)])
            .filter { $0.file == "migrations/002_pk.sql" }
    }

    @Test func flagsANullableColumnOfAnIndexBuiltEarlier() {
        let findings = lintAfterSchema("""
            CREATE UNIQUE INDEX CONCURRENTLY t_b_uq ON t (b);
            ALTER TABLE t ADD CONSTRAINT t_b_pk PRIMARY KEY USING INDEX t_b_uq;
            """)
        #expect(positions(findings) == ["2:37"])
        #expect(findings.first?.severity == .error)
        #expect(findings.first?.message.contains("`b` is not known NOT NULL") == true)
    }

    @Test func fineWhenEveryColumnIsKnownNotNull() {
        #expect(lintAfterSchema("""
            CREATE UNIQUE INDEX CONCURRENTLY t_id_uq ON t (id);
            ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY USING INDEX t_id_uq;
            """).isEmpty)
        #expect(lintAfterSchema("""
            CREATE UNIQUE INDEX CONCURRENTLY t_id_a_uq ON t (id, a DESC) INCLUDE (b, id);
            ALTER TABLE t ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;
            ALTER TABLE t VALIDATE CONSTRAINT a_nn;
            ALTER TABLE t ALTER a SET NOT NULL;
            ALTER TABLE t ADD PRIMARY KEY USING INDEX t_id_a_uq;
            """).isEmpty)
    }

    @Test func anIndexTheLinterNeverSawIsAWarning() {
        let findings = lint("ALTER TABLE t ADD PRIMARY KEY USING INDEX elsewhere_idx;", only: id)
        #expect(positions(findings) == ["1:19"])
        #expect(findings.first?.severity == .warning)
    }

    @Test func indexColumnsAreRecordedOnlyForPlainColumns() {
        var history = SchemaHistory()
        history.record("""
            CREATE UNIQUE INDEX IF NOT EXISTS i1 ON ONLY app.t USING btree (a, "B" text_pattern_ops) WHERE a > 0;
            CREATE INDEX i2 ON t (lower(b));
            CREATE INDEX i3 ON t (a);
            DROP INDEX CONCURRENTLY IF EXISTS i3;
            """)
        #expect(history.indexColumns == ["i1": ["a", "B"]])
    }
}
