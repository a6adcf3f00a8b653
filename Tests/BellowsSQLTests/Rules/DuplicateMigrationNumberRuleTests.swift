import Testing
@testable import BellowsSQL

@Suite struct DuplicateMigrationNumberRuleTests {
    let id = DuplicateMigrationNumberRule.id

    @Test func flagsDuplicates() {
        let context = LintContext(allMigrationFileNames: ["001_a.sql", "002_b.sql", "002_c.sql"])
        let findings = lint("SELECT 1;", only: id, path: "migrations/002_b.sql", context: context)
        #expect(positions(findings) == ["1:1"])
        #expect(findings[0].message.contains("`002_c.sql`"))
    }

    @Test func uniqueNumbersAreFine() {
        let context = LintContext(allMigrationFileNames: ["001_a.sql", "002_b.sql", "003_c.sql"])
        #expect(lint("SELECT 1;", only: id, path: "migrations/002_b.sql", context: context).isEmpty)
    }
}
