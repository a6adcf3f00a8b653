import Testing
@testable import BellowsSQL

@Suite struct NulByteRuleTests {
    let id = NulByteRule.id

    @Test func flagsEachNulWhereItIs() {
        let findings = lint("SELECT 1;\nDELETE FROM t \u{0}WHERE id = 5;\n", only: id)
        #expect(positions(findings) == ["2:15"])
        #expect(findings.first?.message.contains("truncated") == true)
    }

    @Test func noNulNoFinding() {
        #expect(lint("DELETE FROM t WHERE id = 5;\n", only: id).isEmpty)
    }
}
