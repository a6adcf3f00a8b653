import Testing
@testable import BellowsSQL

@Suite struct MigrationFileNameRuleTests {
    let id = MigrationFileNameRule.id

    @Test func flagsMalformedNames() {
        for name in ["4_add_x.sql", "004-add-x.sql", "004_AddX.sql", "add_x.sql", "004_add_x.SQL", "004_.sql", "004_add__x.sql", "004add.sql"] {
            #expect(positions(lint("SELECT 1;", only: id, path: "migrations/\(name)")) == ["1:1"], "\(name)")
        }
    }

    @Test func acceptsWellFormedNames() {
        for name in ["001_initial_schema.sql", "0042_add_x2.sql", "123_a.sql"] {
            #expect(lint("SELECT 1;", only: id, path: "migrations/\(name)").isEmpty, "\(name)")
        }
    }

    @Test func contextFileNameWins() {
        #expect(lint("SELECT 1;", only: id, path: "/tmp/x", context: LintContext(fileName: "005_ok.sql")).isEmpty)
    }
}
