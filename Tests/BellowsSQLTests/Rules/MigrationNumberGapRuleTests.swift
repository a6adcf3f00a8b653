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

    @Test func findsThePreviousNumberInAnUnsortedList() {
        let context = LintContext(allMigrationFileNames: ["010_j.sql", "002_b.sql", "007_g.sql", "002_c.sql", "x.sql", "001_a.sql"])
        #expect(lint("SELECT 1;", only: id, path: "migrations/010_j.sql", context: context).first?.message.contains("jumps from 7 to 10") == true)
        #expect(lint("SELECT 1;", only: id, path: "migrations/007_g.sql", context: context).first?.message.contains("3–6 is missing") == true)
        #expect(lint("SELECT 1;", only: id, path: "migrations/002_c.sql", context: context).isEmpty)
        #expect(lint("SELECT 1;", only: id, path: "migrations/001_a.sql", context: context).isEmpty)
        // A file not in the list is placed among the others.
        #expect(lint("SELECT 1;", only: id, path: "migrations/009_i.sql", context: context).first?.message.contains("8 is missing") == true)
    }

    @Test func followsFileNamesChangedAfterTheContextIsMade() {
        var context = LintContext(allMigrationFileNames: ["001_a.sql", "003_c.sql"])
        #expect(positions(lint("SELECT 1;", only: id, path: "migrations/003_c.sql", context: context)) == ["1:1"])
        context.allMigrationFileNames.append("002_b.sql")
        #expect(lint("SELECT 1;", only: id, path: "migrations/003_c.sql", context: context).isEmpty)
    }

    @Test func contiguousNumbersAreFine() {
        let context = LintContext(allMigrationFileNames: ["001_a.sql", "002_b.sql", "003_c.sql"])
        #expect(lint("SELECT 1;", only: id, path: "migrations/003_c.sql", context: context).isEmpty)
        #expect(lint("SELECT 1;", only: id, path: "migrations/001_a.sql", context: context).isEmpty)
    }
}
