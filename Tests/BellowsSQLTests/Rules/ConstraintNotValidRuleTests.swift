import Testing
@testable import BellowsSQL

@Suite struct ConstraintNotValidRuleTests {
    let id = ConstraintNotValidRule.id

    @Test func flagsCheckAndForeignKeyWithoutNotValid() {
        let sql = """
        ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0);
        ALTER TABLE orders
          ADD CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id);
        ALTER TABLE orders ADD CHECK (x > 0), ADD COLUMN y int;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:44", "3:30", "4:24"])
        #expect(findings[1].message.contains("FOREIGN KEY"))
    }

    @Test func notValidIsFine() {
        let sql = """
        ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;
        ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (x int);\nALTER TABLE t ADD CONSTRAINT c CHECK (x > 0);", only: id).isEmpty)
    }

    @Test func otherConstraintsAreNotThisRule() {
        #expect(lint("ALTER TABLE t ADD CONSTRAINT u UNIQUE (x);", only: id).isEmpty)
    }
}

extension ConstraintNotValidRuleTests {
    @Test func flagsInlineConstraintsOnANewColumn() {
        let sql = "ALTER TABLE orders ADD COLUMN customer_id bigint REFERENCES customers (id);\nALTER TABLE orders ADD COLUMN n int CHECK (n > 0);"
        #expect(positions(lint(sql, only: id)) == ["1:50", "2:37"])
        #expect(lint("ALTER TABLE orders ADD COLUMN n int;", only: id).isEmpty)
    }
}
