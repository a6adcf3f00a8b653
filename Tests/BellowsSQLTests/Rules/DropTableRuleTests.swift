import Testing
@testable import BellowsSQL

@Suite struct DropTableRuleTests {
    let id = DropTableRule.id

    @Test func flagsEachExistingTable() {
        let findings = lint("DROP TABLE IF EXISTS old_orders, public.archive CASCADE;", only: id)
        #expect(positions(findings) == ["1:22", "1:34"])
        #expect(findings[1].message.contains("`public.archive`"))
    }

    @Test func tableCreatedInTheFileIsFine() {
        #expect(lint("CREATE TEMP TABLE scratch (a int);\nDROP TABLE scratch;", only: id).isEmpty)
    }

    @Test func otherDropsAreNotThisRule() {
        #expect(lint("DROP INDEX i;\nDROP VIEW v;\nDROP TRIGGER t ON users;", only: id).isEmpty)
    }
}
