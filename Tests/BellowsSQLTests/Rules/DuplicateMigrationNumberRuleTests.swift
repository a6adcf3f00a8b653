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

    @Test func listsTheOtherFilesInTheOrderGiven() {
        let context = LintContext(allMigrationFileNames: ["003_z.sql", "001_a.sql", "003_b.sql", "3_odd.sql", "003_b.sql"])
        let findings = lint("SELECT 1;", only: id, path: "migrations/003_b.sql", context: context)
        #expect(findings.map(\.message).first?.contains("is also used by `003_z.sql`, `3_odd.sql`:") == true)
        #expect(lint("SELECT 1;", only: id, path: "migrations/001_a.sql", context: context).isEmpty)
    }

    @Test func followsFileNamesChangedAfterTheContextIsMade() {
        var context = LintContext(allMigrationFileNames: ["001_a.sql", "002_b.sql"])
        #expect(lint("SELECT 1;", only: id, path: "migrations/002_b.sql", context: context).isEmpty)
        context.allMigrationFileNames.append("002_c.sql")
        #expect(positions(lint("SELECT 1;", only: id, path: "migrations/002_b.sql", context: context)) == ["1:1"])
    }

    @Test func uniqueNumbersAreFine() {
        let context = LintContext(allMigrationFileNames: ["001_a.sql", "002_b.sql", "003_c.sql"])
        #expect(lint("SELECT 1;", only: id, path: "migrations/002_b.sql", context: context).isEmpty)
    }
}
