import Testing
@testable import BellowsSQL

@Suite struct RenameTableRuleTests {
    let id = RenameTableRule.id

    @Test func flagsTableRename() {
        let findings = lint("ALTER TABLE \"Users\" RENAME TO people;", only: id)
        #expect(positions(findings) == ["1:21"])
        #expect(findings[0].message.contains("`Users`"))
        #expect(findings[0].message.contains("`rename_table_to: people`"), "the plan that does it safely: \(findings[0].message)")
    }

    @Test func columnRenameIsNotThisRule() {
        #expect(lint("ALTER TABLE users RENAME COLUMN a TO b;", only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE tmp (a int);\nALTER TABLE tmp RENAME TO final;", only: id).isEmpty)
    }
}
