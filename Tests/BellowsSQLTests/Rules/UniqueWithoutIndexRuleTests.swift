import Testing
@testable import BellowsSQL

@Suite struct UniqueWithoutIndexRuleTests {
    let id = UniqueWithoutIndexRule.id

    @Test func flagsPrimaryKeyAndUniqueWithoutIndex() {
        let sql = """
        ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (id);
        ALTER TABLE users ADD UNIQUE (email);
        ALTER TABLE users ADD COLUMN handle text UNIQUE;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:45", "2:23", "3:42"])
        #expect(findings[0].message.contains("USING INDEX"))
    }

    @Test func usingIndexIsFine() {
        let sql = """
        ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_pkey_idx;
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (id int);\nALTER TABLE t ADD PRIMARY KEY (id);", only: id).isEmpty)
    }
}
