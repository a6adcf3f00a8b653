import Testing
@testable import BellowsSQL

@Suite struct UnterminatedLiteralRuleTests {
    let id = UnterminatedLiteralRule.id

    @Test func flagsUnterminatedTokens() {
        #expect(positions(lint("SELECT 1;\nUPDATE t SET a = 'x WHERE id = 1;\nSELECT 2;", only: id)) == ["2:18"])
        #expect(positions(lint("DO $$ BEGIN NULL; END $;", only: id)) == ["1:4"])
        #expect(positions(lint("SELECT 1; /* unclosed", only: id)) == ["1:11"])
    }

    @Test func terminatedTokensAreFine() {
        #expect(lint("SELECT 'a''b', E'\\'', $x$ $ $x$, \"q\"; /* /* */ */", only: id).isEmpty)
    }
}
