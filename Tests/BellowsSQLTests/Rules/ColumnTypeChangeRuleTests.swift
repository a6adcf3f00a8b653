import Testing
@testable import BellowsSQL

@Suite struct ColumnTypeChangeRuleTests {
    let id = ColumnTypeChangeRule.id

    @Test func flagsARewritingChange() {
        let findings = lint("ALTER TABLE orders ALTER COLUMN id TYPE bigint;", only: id)
        #expect(positions(findings) == ["1:36"])
        #expect(findings[0].severity == .error)
    }

    @Test func usingAlwaysRewrites() {
        let findings = lint("ALTER TABLE t ALTER COLUMN c SET DATA TYPE text USING c::text;", only: id)
        #expect(positions(findings) == ["1:49"])
    }

    @Test func wideningToUnboundedStringsIsFine() {
        #expect(lint("ALTER TABLE t ALTER COLUMN c TYPE text;", only: id).isEmpty)
        #expect(lint("ALTER TABLE t ALTER COLUMN c TYPE character varying;", only: id).isEmpty)
    }

    @Test func boundedVarcharWithUnknownOldTypeIsAWarning() {
        let findings = lint("ALTER TABLE t ALTER COLUMN c TYPE varchar(200);", only: id)
        #expect(positions(findings) == ["1:30"])
        #expect(findings[0].severity == .warning)
    }

    @Test func knownOldTypeDecides() {
        let context = LintContext(columnTypes: ["t.c": "varchar(100)", "t.n": "numeric(10,2)", "t.b": "varbit(8)", "t.s": "text"])
        let safe = """
        ALTER TABLE t ALTER COLUMN c TYPE varchar(200);
        ALTER TABLE t ALTER COLUMN c TYPE varchar;
        ALTER TABLE t ALTER COLUMN n TYPE numeric(12, 2);
        ALTER TABLE t ALTER COLUMN n TYPE numeric;
        ALTER TABLE t ALTER COLUMN b TYPE bit varying(16);
        """
        #expect(lint(safe, only: id, context: context).isEmpty)
        let unsafe = """
        ALTER TABLE t ALTER COLUMN c TYPE varchar(50);
        ALTER TABLE t ALTER COLUMN n TYPE numeric(12, 3);
        ALTER TABLE t ALTER COLUMN s TYPE varchar(10);
        """
        let findings = lint(unsafe, only: id, context: context)
        #expect(positions(findings) == ["1:30", "2:30", "3:30"])
        #expect(findings.allSatisfy { $0.severity == .error })
        #expect(findings[0].message.contains("from varchar(100) to varchar(50)"))
    }

    @Test func oldTypeFromAnEarlierStatementOfTheFile() {
        let context = LintContext(columnTypes: ["t.c": "integer"])
        let sql = "ALTER TABLE t ALTER COLUMN c TYPE varchar(10) USING c::text;\nALTER TABLE t ALTER COLUMN c TYPE varchar(20);"
        #expect(positions(lint(sql, only: id, context: context)) == ["1:47"])
    }

    @Test func oldTypeFromTheSchemaHistory() {
        var history = SchemaHistory()
        history.record("CREATE TABLE t (id bigint PRIMARY KEY, c varchar(100) NOT NULL);")
        let context = history.context()
        #expect(lint("ALTER TABLE t ALTER COLUMN c TYPE varchar(200);", only: id, context: context).isEmpty)
        #expect(positions(lint("ALTER TABLE t ALTER COLUMN c TYPE varchar(20);", only: id, context: context)) == ["1:30"])
    }

    @Test func timestampToTimestamptzRewrites() {
        let context = LintContext(columnTypes: ["t.at": "timestamp"])
        #expect(positions(lint("ALTER TABLE t ALTER at TYPE timestamp with time zone;", only: id, context: context)) == ["1:24"])
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (c int);\nALTER TABLE t ALTER COLUMN c TYPE bigint;", only: id).isEmpty)
    }

    @Test func aColumnNamedTypeIsNotATypeChange() {
        #expect(lint("ALTER TABLE t ALTER COLUMN type SET DEFAULT 'a';", only: id).isEmpty)
    }
}
