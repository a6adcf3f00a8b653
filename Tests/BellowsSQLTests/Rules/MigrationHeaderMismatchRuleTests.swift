import Testing
@testable import BellowsSQL

@Suite struct MigrationHeaderMismatchRuleTests {
    let id = MigrationHeaderMismatchRule.id

    @Test func flagsAMismatchedHeader() {
        let sql = "-- Description: x\n-- Migration: 003_add_x\nSELECT 1;"
        let findings = lint(sql, only: id, path: "migrations/004_add_y.sql")
        #expect(positions(findings) == ["2:1"])
        #expect(findings[0].message.contains("`-- Migration: 004_add_y`"))
    }

    @Test func matchingOrMissingHeaderIsFine() {
        #expect(lint("-- Migration: 004_add_y\nSELECT 1;", only: id, path: "migrations/004_add_y.sql").isEmpty)
        #expect(lint("-- Migration: 004_add_y.sql\nSELECT 1;", only: id, path: "migrations/004_add_y.sql").isEmpty)
        #expect(lint("SELECT 1;", only: id, path: "migrations/004_add_y.sql").isEmpty)
    }
}
