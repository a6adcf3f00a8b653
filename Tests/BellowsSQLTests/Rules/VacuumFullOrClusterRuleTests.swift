import Testing
@testable import BellowsSQL

@Suite struct VacuumFullOrClusterRuleTests {
    let id = VacuumFullOrClusterRule.id

    @Test func flagsVacuumFullAndCluster() {
        let sql = "VACUUM FULL users;\nVACUUM (VERBOSE, FULL) orders;\nCLUSTER users USING users_pkey;"
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:8", "2:18", "3:1"])
        #expect(findings[0].message.contains("pg_repack"))
    }

    @Test func plainVacuumIsFine() {
        #expect(lint("VACUUM ANALYZE users;\nVACUUM (FULL false) users;\nSELECT 'VACUUM FULL';", only: id).isEmpty)
    }
}
