import Testing
@testable import BellowsSQL

@Suite struct DropColumnRuleTests {
    let id = DropColumnRule.id

    @Test func flagsDropColumn() {
        let findings = lint("ALTER TABLE users DROP COLUMN IF EXISTS legacy, DROP other;", only: id)
        #expect(positions(findings) == ["1:19", "1:49"])
        #expect(findings[0].severity == .warning)
        #expect(findings[0].message.contains("`users.legacy`"))
        #expect(findings[1].message.contains("`users.other`"))
    }

    @Test func dropConstraintAndDropDefaultAreNotThisRule() {
        let sql = "ALTER TABLE users DROP CONSTRAINT c;\nALTER TABLE users ALTER COLUMN x DROP DEFAULT;\nALTER TABLE users ALTER x DROP NOT NULL;"
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;", only: id).isEmpty)
    }
}
