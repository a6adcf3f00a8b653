import Testing
@testable import BellowsSQL

@Suite struct EmptyMigrationRuleTests {
    let id = EmptyMigrationRule.id

    @Test func flagsAFileWithOnlyComments() {
        #expect(positions(lint("-- Migration: 010_test\n-- TODO\n", only: id)) == ["1:1"])
        #expect(positions(lint("", only: id)) == ["1:1"])
    }

    @Test func oneStatementIsEnough() {
        #expect(lint("SELECT 1;\n", only: id).isEmpty)
    }
}
