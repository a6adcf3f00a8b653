import Testing
@testable import BellowsSQL

@Suite struct NotNullWithoutDefaultRuleTests {
    let id = NotNullWithoutDefaultRule.id

    @Test func flagsNotNullWithoutDefault() {
        let findings = lint("ALTER TABLE users ADD COLUMN email text NOT NULL;", only: id)
        #expect(positions(findings) == ["1:41"])
        #expect(findings[0].message.contains("column contains null values"))
    }

    @Test func defaultOrNullableIsFine() {
        let sql = """
        ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT '';
        ALTER TABLE users ADD COLUMN email2 text;
        ALTER TABLE users ADD COLUMN id2 bigint NOT NULL GENERATED ALWAYS AS IDENTITY;
        ALTER TABLE users ADD COLUMN n bigserial NOT NULL;
        ALTER TABLE users ALTER COLUMN x SET NOT NULL;
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN e text NOT NULL;", only: id).isEmpty)
    }
}
