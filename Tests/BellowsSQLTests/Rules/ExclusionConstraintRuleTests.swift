import Testing
@testable import BellowsSQL

/// hostile-d 09: ADD … EXCLUDE on an existing table passed lint.
@Suite struct ExclusionConstraintRuleTests {
    let id = ExclusionConstraintRule.id

    @Test func flagsAnExclusionConstraintAddedToAnExistingTable() {
        let sql = """
        ALTER TABLE t ADD CONSTRAINT t_no_overlap EXCLUDE USING gist (during WITH &&);
        ALTER TABLE t ADD EXCLUDE (room WITH =);
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:43", "2:19"])
        #expect(findings[0].message.contains("no concurrent form"))
    }

    @Test func onANewTableItIsFine() {
        let sql = """
        CREATE TABLE n (during tstzrange, EXCLUDE USING gist (during WITH &&));
        ALTER TABLE n ADD CONSTRAINT n_x EXCLUDE USING gist (during WITH &&);
        ALTER TABLE t ADD CONSTRAINT t_u UNIQUE USING INDEX t_u_idx;
        """
        #expect(lint(sql, only: id).isEmpty)
    }
}
