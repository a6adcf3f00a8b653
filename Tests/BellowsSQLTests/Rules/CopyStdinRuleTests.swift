import Testing
@testable import BellowsSQL

@Suite struct CopyStdinRuleTests {
    let id = CopyStdinRule.id

    @Test func flagsCopyFromStdinAndToStdout() {
        #expect(positions(lint("CREATE TABLE t (id int);\nCOPY t (id) FROM STDIN;\n", only: id)) == ["2:1"])
        #expect(positions(lint("COPY (SELECT 1) TO stdout;\n", only: id)) == ["1:1"])
    }

    @Test func copyFromAServerFileIsFine() {
        #expect(lint("COPY t FROM '/srv/data/t.csv' WITH (FORMAT csv);\n", only: id).isEmpty)
    }
}
