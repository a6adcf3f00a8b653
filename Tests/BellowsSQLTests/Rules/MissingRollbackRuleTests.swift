import Testing
@testable import BellowsSQL

@Suite struct MissingRollbackRuleTests {
    let id = MissingRollbackRule.id

    @Test func flagsAMissingRollbackFile() {
        let findings = lint("SELECT 1;", only: id, path: "migrations/004_add_x.sql", context: LintContext(hasRollbackFile: false))
        #expect(positions(findings) == ["1:1"])
        #expect(findings[0].message.contains("rollback/004_add_x.sql"))
    }

    @Test func presentOrUnknownIsFine() {
        #expect(lint("SELECT 1;", only: id, context: LintContext(hasRollbackFile: true)).isEmpty)
        #expect(lint("SELECT 1;", only: id, context: LintContext(hasRollbackFile: nil)).isEmpty)
    }
}
