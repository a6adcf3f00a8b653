import Testing
@testable import BellowsSQL

@Suite struct MigrationNumberGapRuleTests {
    let id = MigrationNumberGapRule.id

    @Test func flagsTheFileAfterAGap() {
        let context = LintContext(allMigrationFileNames: ["001_a.sql", "002_b.sql", "005_e.sql"])
        let findings = lint("SELECT 1;", only: id, path: "migrations/005_e.sql", context: context)
        #expect(positions(findings) == ["1:1"])
        #expect(findings[0].message.contains("3–4 is missing"))
        #expect(lint("SELECT 1;", only: id, path: "migrations/002_b.sql", context: context).isEmpty)
    }

    @Test func contiguousNumbersAreFine() {
        let context = LintContext(allMigrationFileNames: ["001_a.sql", "002_b.sql", "003_c.sql"])
        #expect(lint("SELECT 1;", only: id, path: "migrations/003_c.sql", context: context).isEmpty)
        #expect(lint("SELECT 1;", only: id, path: "migrations/001_a.sql", context: context).isEmpty)
    }
}
