import Testing
@testable import BellowsSQL

@Suite struct FileTransactionControlRuleTests {
    let id = FileTransactionControlRule.id

    @Test func flagsARollback() {
        #expect(positions(lint("BEGIN;\nDELETE FROM t WHERE id = 1;\nROLLBACK;\n", only: id)) == ["3:1"])
        #expect(positions(lint("DELETE FROM t WHERE id = 1;\nABORT;\n", only: id)) == ["2:1"])
    }

    @Test func flagsACommitInTheMiddleAndASecondBegin() {
        let sql = "BEGIN;\nUPDATE t SET x = 1 WHERE id = 1;\nCOMMIT;\nBEGIN;\nUPDATE t SET x = 2 WHERE id = 2;\nCOMMIT;\n"
        #expect(positions(lint(sql, only: id)) == ["3:1", "4:1"])
    }

    @Test func aLeadingBeginAndTrailingCommitAndSavepointsAreFine() {
        let sql = "BEGIN ISOLATION LEVEL SERIALIZABLE;\nSAVEPOINT a;\nUPDATE t SET x = 1 WHERE id = 1;\nROLLBACK TO SAVEPOINT a;\nRELEASE a;\nCOMMIT;\n"
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func nonTransactionalFilesMayHaveClosedBlocksOnly() {
        let ok = "-- bellows:no-transaction\nBEGIN;\nSAVEPOINT a;\nUPDATE t SET x = 1 WHERE id = 1;\nCOMMIT;\nVACUUM t;\n"
        #expect(lint(ok, only: id).isEmpty)
        let unclosed = "-- bellows:no-transaction\nVACUUM t;\nBEGIN;\nUPDATE t SET x = 1 WHERE id = 1;\n"
        #expect(positions(lint(unclosed, only: id)) == ["3:1"])
        let savepoint = "-- bellows:no-transaction\nSAVEPOINT a;\nVACUUM t;\n"
        #expect(positions(lint(savepoint, only: id)) == ["2:1"])
    }

    @Test func twoPhaseCommitIsFlagged() {
        #expect(positions(lint("PREPARE TRANSACTION 'x';\n", only: id)) == ["1:1"])
    }
}
