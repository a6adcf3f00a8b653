import Testing
@testable import BellowsSQL

@Suite struct VolatileDefaultRuleTests {
    let id = VolatileDefaultRule.id

    @Test func flagsVolatileDefaults() {
        let sql = """
        ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
        ALTER TABLE users ADD COLUMN r float8 NOT NULL DEFAULT (random() * 10);
        ALTER TABLE users ADD seq bigint DEFAULT nextval('s');
        ALTER TABLE users ADD COLUMN at timestamptz DEFAULT CLOCK_TIMESTAMP();
        """
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["1:49", "2:57", "3:42", "4:53"])
        #expect(findings[0].message.contains("gen_random_uuid()"))
    }

    @Test func flagsSerialIdentityAndStoredGenerated() {
        let sql = """
        ALTER TABLE t ADD COLUMN id2 bigserial;
        ALTER TABLE t ADD COLUMN id3 bigint GENERATED ALWAYS AS IDENTITY;
        ALTER TABLE t ADD COLUMN total numeric GENERATED ALWAYS AS (a + b) STORED;
        """
        #expect(positions(lint(sql, only: id)) == ["1:30", "2:37", "3:40"])
    }

    @Test func stableAndConstantDefaultsAreFine() {
        let sql = """
        ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();
        ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active';
        ALTER TABLE users ADD COLUMN at timestamptz DEFAULT CURRENT_TIMESTAMP;
        ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid();
        """
        #expect(lint(sql, only: id).isEmpty)
    }

    @Test func newTableIsFine() {
        #expect(lint("CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();", only: id).isEmpty)
    }

    @Test func functionNamesInStringsAreNotCalls() {
        #expect(lint("ALTER TABLE t ADD COLUMN note text DEFAULT 'random()';", only: id).isEmpty)
    }
}
