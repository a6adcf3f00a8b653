import Testing
@testable import BellowsSQL

@Suite struct RenameColumnRuleTests {
    let id = RenameColumnRule.id

    @Test func flagsColumnRename() {
        let findings = lint("ALTER TABLE IF EXISTS users RENAME COLUMN name TO full_name;\nALTER TABLE users RENAME email TO mail;", only: id)
        #expect(positions(findings) == ["1:29", "2:19"])
        #expect(findings[0].message.contains("`users.name` to `full_name`"))
        #expect(findings[0].message.contains("Bellows"))
    }

    @Test func otherRenamesAreNotThisRule() {
        #expect(lint("ALTER TABLE users RENAME TO people;\nALTER TABLE users RENAME CONSTRAINT a TO b;", only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;", only: id).isEmpty)
    }
}
