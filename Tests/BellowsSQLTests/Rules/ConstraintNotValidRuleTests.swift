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

/// PostgreSQL 18's NOT NULL constraint: added without NOT VALID it scans the table under the
/// ADD's ACCESS EXCLUSIVE lock, as SET NOT NULL does.
extension ConstraintNotValidRuleTests {
    @Test func flagsANotNullConstraintWithoutNotValid() {
        let sql = """
        ALTER TABLE orders ADD CONSTRAINT total_required NOT NULL total;
        ALTER TABLE orders ADD NOT NULL customer_id;
        ALTER TABLE orders ADD CONSTRAINT note_required NOT NULL note NO INHERIT;
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:50", "2:24", "3:49"])
        #expect(findings.first?.message.contains("NOT NULL constraint") == true, "\(findings.map(\.message))")
        #expect(findings.first?.message.contains("ACCESS EXCLUSIVE") == true)
    }

    @Test func aNotValidNotNullConstraintIsFine() {
        let sql = """
        ALTER TABLE orders ADD CONSTRAINT total_required NOT NULL total NOT VALID;
        ALTER TABLE orders ADD NOT NULL customer_id NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT total_required;
        """
        #expect(lint(sql, only: id).isEmpty)
        #expect(lint("CREATE TABLE t (x int);\nALTER TABLE t ADD CONSTRAINT x_required NOT NULL x;", only: id).isEmpty)
        #expect(lint("ALTER TABLE orders ADD COLUMN n int NOT NULL DEFAULT 0;", only: id).isEmpty)
    }
}
