import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Schemas on which a phase could see, write or compare fewer rows or other values than the
/// table holds: row-level security, writes around the trigger, the writer's search_path,
/// types without `=`, and the user's own triggers.
@Suite(needsDatabase)
struct DataSafetyTests {
    /// A login role unique to this test, dropped (with what it owns in the fixture's database)
    /// by the returned closure, which must run before the fixture closes.
    static func role(_ fixture: EngineFixture, _ label: String, attributes: String = "") throws -> (name: String, drop: () -> Void) {
        let name = "bellows_\(label)_\(UInt32.random(in: 0...UInt32.max))"
        // pg_virtualenv's cluster (scripts/test) asks for a password, the one in PGPASSWORD: the
        // role gets it too, so a connection as the role authenticates wherever the suite runs.
        let password = ProcessInfo.processInfo.environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }.map { " PASSWORD '" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? ""
        try fixture.exec("CREATE ROLE \(name) LOGIN\(password) \(attributes); GRANT CREATE ON DATABASE \(fixture.db.name) TO \(name);")
        return (name, {
            _ = try? fixture.sql.executeScript("DROP OWNED BY \(name) CASCADE")
            _ = try? fixture.sql.executeScript("REVOKE ALL ON DATABASE \(fixture.db.name) FROM \(name)")
            _ = try? fixture.sql.executeScript("DROP ROLE \(name)")
        })
    }

    // MARK: 1. Row-level security

    /// The owner under FORCE ROW LEVEL SECURITY with a restrictive policy sees no row: the
    /// backfill used to update none, verify to pass over none and contract to drop every value.
    @Test func rowSecurityIsRefusedNeverFiltered() throws {
        let fixture = try EngineFixture("rls")
        defer { fixture.close() }
        let owner = try Self.role(fixture, "rls_owner")
        defer { owner.drop() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, tenant text NOT NULL, email text NOT NULL);
            INSERT INTO accounts SELECT g, 't' || (g % 3), 'user' || g || '@example.com' FROM generate_series(1, 600) AS g;
            ALTER TABLE accounts OWNER TO \(owner.name);
            ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
            ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
            CREATE POLICY everyone ON accounts USING (true);
            CREATE POLICY tenant_only ON accounts AS RESTRICTIVE USING (tenant = current_setting('app.tenant', true));
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
            """)
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }
        let original = try fixture.snapshot("accounts")
        let refusal = expectRefusal { try fixture.run(.expand, id, asOwner) }
        #expect(refusal?.gates == ["row-security"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("tenant_only (restrictive)") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("NO FORCE ROW LEVEL SECURITY") == true)
        #expect(try fixture.snapshot("accounts") == original)

        // Without FORCE the owner sees every row: the plan runs and keeps every value.
        try fixture.exec("ALTER TABLE accounts NO FORCE ROW LEVEL SECURITY")
        try fixture.forward(id, through: .verify, asOwner)
        // FORCE again before contract: refused, nothing dropped.
        try fixture.exec("ALTER TABLE accounts FORCE ROW LEVEL SECURITY")
        let late = expectRefusal { try fixture.run(.contract, id, asOwner) }
        #expect(late?.gates == ["row-security"], "\(late?.text ?? "")")
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email IS NOT NULL") == 600)
        try fixture.exec("ALTER TABLE accounts NO FORCE ROW LEVEL SECURITY")
        try fixture.run(.contract, id, asOwner)
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email_address = 'user' || id || '@example.com'") == 600)
    }

    /// Every phase session runs with row_security off, so a policy that would filter a
    /// statement makes it fail instead, and the failure says what to do.
    @Test func phaseSessionsNeverFilterRows() throws {
        let fixture = try EngineFixture("rlsoff")
        defer { fixture.close() }
        let engine = fixture.engine()
        let connection = try engine.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT current_setting('row_security') AS v").first?.string("v") == "off")
    }

    // MARK: 2. Writes around the trigger

    static let renameEmail = """
        table: accounts
        changes:
          - alter: email
            rename_to: email_address
            type: varchar(200)
            up: lower(email)
            down: email_address
        """

    static func accounts(_ fixture: EngineFixture, rows: Int = 500) throws {
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO accounts SELECT g, 'User' || g || '@example.com' FROM generate_series(1, \(rows)) AS g;
            """)
    }

    /// Writers in `session_replication_role = replica` (replication tools, bulk loaders) go
    /// through the trigger too; a trigger disabled and enabled again after verify makes
    /// contract refuse until verify has run again.
    @Test func writesAroundTheTriggerAreNeverDropped() throws {
        let fixture = try EngineFixture("bypass")
        defer { fixture.close() }
        try Self.accounts(fixture)
        let id = "001_email"
        try fixture.writePlan(id, Self.renameEmail)
        try fixture.forward(id, through: .verify)
        try fixture.exec("""
            SET session_replication_role = replica;
            INSERT INTO accounts (id, email) VALUES (1001, 'Replica@Example.com');
            UPDATE accounts SET email = 'Changed@Example.com' WHERE id = 7;
            RESET session_replication_role;
            """)
        #expect(try fixture.rows("SELECT email_address FROM accounts WHERE id IN (7, 1001) ORDER BY id")
                == [["changed@example.com"], ["replica@example.com"]])

        // Disabled, written around, enabled again: contract refuses, nothing dropped.
        let trigger = "~bellows_sync_\(id)"
        try fixture.exec("""
            ALTER TABLE accounts DISABLE TRIGGER "\(trigger)";
            UPDATE accounts SET email = 'Around@Example.com' WHERE id = 9;
            ALTER TABLE accounts ENABLE ALWAYS TRIGGER "\(trigger)";
            """)
        let before = try fixture.snapshot("accounts")
        let refusal = expectRefusal { try fixture.run(.contract, id) }
        #expect(refusal?.gates == ["trigger-since-verify"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("bellows verify \(id)") == true)
        #expect(try fixture.snapshot("accounts") == before)
        #expect(try fixture.state(id)?.phase == .verified)
        // Verify sees the write made around the trigger.
        let mismatch = expectRefusal { try fixture.run(.verify, id) }
        #expect(mismatch?.gates == ["mismatch:change_1"], "\(mismatch?.text ?? "")")
        try fixture.exec("UPDATE accounts SET email_address = lower(email) WHERE id = 9")
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT email_address FROM accounts WHERE id IN (7, 9, 1001) ORDER BY id")
                == [["changed@example.com"], ["around@example.com"], ["replica@example.com"]])
    }

    /// A table with `INHERITS` children, or one that inherits: refused before expand.
    @Test func inheritanceIsRefusedBeforeExpand() throws {
        let fixture = try EngineFixture("inherit")
        defer { fixture.close() }
        try Self.accounts(fixture, rows: 10)
        try fixture.exec("""
            CREATE TABLE archived_accounts (archived_at timestamptz, PRIMARY KEY (id)) INHERITS (accounts);
            INSERT INTO archived_accounts (id, email) VALUES (5000, 'Old@Example.com');
            """)
        try fixture.writePlan("001_email", Self.renameEmail)
        let original = try fixture.snapshot("accounts")
        let refusal = expectRefusal { try fixture.run(.expand, "001_email") }
        #expect(refusal?.gates == ["inheritance"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("archived_accounts") == true, "\(refusal?.text ?? "")")
        #expect(try fixture.snapshot("accounts") == original)

        try fixture.writePlan("002_child", Self.renameEmail.replacingOccurrences(of: "table: accounts", with: "table: archived_accounts"))
        let child = expectRefusal { try fixture.run(.expand, "002_child") }
        #expect(child?.gates.contains("inheritance") == true, "\(child?.text ?? "")")
    }

    // MARK: 3. search_path

    /// `up: norm(email)` means `public.norm`, as it did when the plan was expanded: a writer
    /// whose search_path puts a tenant schema first (schema-per-tenant applications) does not
    /// make the trigger call `tenant.norm`, nor does a Bellows session with another path make
    /// the backfill or verify call it.
    @Test func expressionsMeanWhatTheyMeantAtExpand() throws {
        let fixture = try EngineFixture("searchpath")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO accounts SELECT g, 'User' || g || '@example.com' FROM generate_series(1, 300) AS g;
            CREATE FUNCTION public.norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower($1)';
            CREATE SCHEMA tenant;
            CREATE TABLE tenant.calls (at timestamptz DEFAULT now());
            CREATE FUNCTION tenant.norm(text) RETURNS text LANGUAGE plpgsql AS $$
              BEGIN INSERT INTO tenant.calls DEFAULT VALUES; RETURN 'hijacked'; END $$;
            """)
        let id = "001_norm"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
                up: norm(email)
                down: email_address
            """)
        try fixture.run(.expand, id)
        try fixture.exec("""
            SET search_path = tenant, public;
            INSERT INTO accounts (id, email) VALUES (1001, 'Tenant@Example.com');
            UPDATE accounts SET email = 'Moved@Example.com' WHERE id = 3;
            RESET search_path;
            """)
        #expect(try fixture.rows("SELECT email_address FROM accounts WHERE id IN (3, 1001) ORDER BY id")
                == [["moved@example.com"], ["tenant@example.com"]])
        // Bellows itself connected with the tenant's path: the phases still use expand's.
        let tenantPath: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " options='-c search_path=tenant,public'" }
        try fixture.run(.backfill, id, tenantPath)
        try fixture.run(.verify, id, tenantPath)
        try fixture.run(.contract, id, tenantPath)
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email_address = lower(email_address)") == 301)
        #expect(try fixture.int("SELECT count(*) FROM tenant.calls") == 0)
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email_address = 'hijacked'") == 0)
    }

    // MARK: 4. Types without `=`

    /// json and point have no equality operator: the trigger's and verify's comparisons used to
    /// fail, and with them every write to the table while the plan was in transition. They are
    /// compared by identity, like every type (`IdenticalValueTests`).
    @Test func typesWithoutEqualityCompare() throws {
        let fixture = try EngineFixture("json")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE docs (id bigint PRIMARY KEY, payload json);
            INSERT INTO docs SELECT g, json_build_object('n', g) FROM generate_series(1, 400) AS g;
            CREATE TABLE shapes (id bigint PRIMARY KEY, spot point, meta json);
            INSERT INTO shapes SELECT g, point(g, -g), json_build_object('n', g) FROM generate_series(1, 400) AS g;
            """)
        try fixture.writePlan("001_docs", """
            table: docs
            changes:
              - alter: payload
                rename_to: body
            """)
        try fixture.writePlan("002_shapes", """
            table: shapes
            changes:
              - alter: meta
                type: jsonb
                up: meta::jsonb
                down: meta::json
              - alter: spot
                rename_to: location
            """)
        for id in ["001_docs", "002_shapes"] { try fixture.run(.expand, id) }
        // Old code and new code write, before and after the backfill.
        try fixture.exec("""
            UPDATE docs SET payload = '{"old": 1}' WHERE id = 1;
            UPDATE docs SET body = '{"new": 2}' WHERE id = 2;
            INSERT INTO docs (id, payload) VALUES (1001, '{"old": 3}');
            INSERT INTO docs (id, body) VALUES (1002, '{"new": 4}');
            UPDATE shapes SET meta = '{"old": 1}', spot = point(7, 7) WHERE id = 1;
            UPDATE shapes SET _bellows_meta = '{"new": 2}', location = point(8, 8) WHERE id = 2;
            INSERT INTO shapes (id, spot, meta) VALUES (1001, point(1, 2), '{"old": 3}');
            INSERT INTO shapes (id, location, _bellows_meta) VALUES (1002, point(3, 4), '{"new": 4}');
            """)
        for id in ["001_docs", "002_shapes"] { try fixture.run(.backfill, id) }
        try fixture.exec("""
            UPDATE docs SET payload = '{"old": 5}' WHERE id = 3;
            UPDATE docs SET body = '{"new": 6}' WHERE id = 4;
            UPDATE shapes SET meta = '{"old": 5}' WHERE id = 3;
            UPDATE shapes SET _bellows_meta = '{"new": 6}', location = point(9, 9) WHERE id = 4;
            """)
        for id in ["001_docs", "002_shapes"] {
            try fixture.run(.verify, id)
            try fixture.run(.contract, id)
        }
        #expect(try fixture.rows("SELECT id, body::text FROM docs WHERE id IN (1, 2, 3, 4, 5, 1001, 1002) ORDER BY id") == [
            ["1", "{\"old\": 1}"], ["2", "{\"new\": 2}"], ["3", "{\"old\": 5}"], ["4", "{\"new\": 6}"], ["5", "{\"n\" : 5}"],
            ["1001", "{\"old\": 3}"], ["1002", "{\"new\": 4}"],
        ])
        #expect(try fixture.rows("SELECT id, meta::text, location::text FROM shapes WHERE id IN (1, 2, 3, 4, 5, 1001, 1002) ORDER BY id") == [
            ["1", "{\"old\": 1}", "(7,7)"], ["2", "{\"new\": 2}", "(8,8)"], ["3", "{\"old\": 5}", "(3,-3)"],
            ["4", "{\"new\": 6}", "(9,9)"], ["5", "{\"n\": 5}", "(5,-5)"],
            ["1001", "{\"old\": 3}", "(1,2)"], ["1002", "{\"new\": 4}", "(3,4)"],
        ])
        #expect(try fixture.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'shapes'::regclass AND attname = 'meta'") == [["jsonb"]])
    }

    // MARK: 5. The user's own triggers

    static func triggeredAccounts(_ fixture: EngineFixture) throws {
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, touched int NOT NULL DEFAULT 0);
            INSERT INTO accounts (id, email) SELECT g, 'User' || g || '@example.com' FROM generate_series(1, 300) AS g;
            CREATE TABLE audit (account bigint);
            CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := OLD.touched + 1; RETURN NEW; END $$;
            CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NULL; END $$;
            CREATE TRIGGER set_touched BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION touch();
            CREATE TRIGGER write_audit AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION audit();
            """)
    }

    /// The backfill does not fire the table's own triggers (an `updated_at` stamped on every
    /// row, an audit row per row) when the role may use session_replication_role = replica.
    @Test func theBackfillDoesNotFireTheTablesTriggers() throws {
        let fixture = try EngineFixture("usertrig")
        defer { fixture.close() }
        try Self.triggeredAccounts(fixture)
        let id = "001_email"
        try fixture.writePlan(id, Self.renameEmail)
        try fixture.forward(id, through: .backfill)
        #expect(try fixture.int("SELECT count(*) FROM audit") == 0)
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE touched <> 0") == 0)
        // Application writes still fire them, and the dual-write trigger fires in replica mode.
        try fixture.exec("UPDATE accounts SET email = 'Seen@Example.com' WHERE id = 5")
        #expect(try fixture.rows("SELECT touched, email_address FROM accounts WHERE id = 5") == [["1", "seen@example.com"]])
        #expect(try fixture.int("SELECT count(*) FROM audit") == 1)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
    }

    /// A role that may not set session_replication_role is told before expand which triggers
    /// the backfill will fire.
    @Test func expandSaysWhichTriggersTheBackfillWillFire() throws {
        let fixture = try EngineFixture("usertrigrole")
        defer { fixture.close() }
        let owner = try Self.role(fixture, "trig_owner")
        defer { owner.drop() }
        try Self.triggeredAccounts(fixture)
        try fixture.exec("ALTER TABLE accounts OWNER TO \(owner.name); GRANT ALL ON audit TO \(owner.name);")
        try fixture.writePlan("001_email", Self.renameEmail)
        let notes = Shared<[String]>([])
        try fixture.engine({ $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }, reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }).run(.expand, plan: "001_email")
        let warning = notes.current.first { $0.contains("the backfill fires") } ?? ""
        #expect(warning.contains("set_touched (BEFORE UPDATE)") && warning.contains("write_audit (AFTER UPDATE)"), "\(notes.current)")
        #expect(warning.contains("GRANT SET ON PARAMETER session_replication_role"), "\(warning)")
    }

    /// A BEFORE trigger named after Bellows' (`~~…` sorts after `~bellows_…`; hostile-d 22 made
    /// `zz_…` fire before it) runs after it and may change a column: verify refuses, naming it.
    @Test func verifyNamesATriggerThatChangesValuesAfterBellows() throws {
        let fixture = try EngineFixture("latetrig")
        defer { fixture.close() }
        try Self.accounts(fixture, rows: 100)
        let id = "001_email"
        try fixture.writePlan(id, Self.renameEmail)
        try fixture.forward(id, through: .backfill)
        try fixture.exec("""
            CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.email_address := upper(NEW.email_address); RETURN NEW; END $$;
            CREATE TRIGGER "~~shout" BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION shout();
            UPDATE accounts SET email = 'Late@Example.com' WHERE id = 3;
            """)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["trigger-order"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("~~shout (BEFORE INSERT OR UPDATE)") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("ALTER TRIGGER \"~~shout\" ON") == true)
    }

    /// Replica mode would also silence the foreign keys' triggers: a backfill writing a column
    /// with a validated foreign key, or one other tables reference (ON UPDATE CASCADE), runs
    /// in the ordinary mode, so the keys are checked and their actions taken.
    @Test func theBackfillKeepsForeignKeysInForce() throws {
        let fixture = try EngineFixture("fkreplica")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE p (id int PRIMARY KEY);
            INSERT INTO p SELECT g FROM generate_series(1, 10) AS g;
            CREATE TABLE t (id bigint PRIMARY KEY, ref int REFERENCES p (id), other int);
            INSERT INTO t SELECT g, CASE WHEN g % 2 = 0 THEN 1 END, 1000 + g FROM generate_series(1, 100) AS g;
            CREATE TABLE parent (id bigint PRIMARY KEY, code text NOT NULL UNIQUE);
            CREATE TABLE child (id bigint PRIMARY KEY, parent_code text REFERENCES parent (code) ON UPDATE CASCADE);
            INSERT INTO parent SELECT g, 'CODE' || g FROM generate_series(1, 100) AS g;
            INSERT INTO child SELECT g, 'CODE' || g FROM generate_series(1, 100) AS g;
            """)
        try fixture.writePlan("001_t_ref", """
            table: t
            changes:
              - alter: ref
                up: "coalesce(ref, other)"
            """)
        try fixture.writePlan("002_parent_code", """
            table: parent
            changes:
              - alter: code
                up: "lower(code)"
                not_null: true
            """)
        // An outgoing key: the backfill's values violate it, so the backfill fails.
        try fixture.run(.expand, "001_t_ref")
        #expect(throws: (any Error).self) { try fixture.run(.backfill, "001_t_ref") }
        #expect(try fixture.int("SELECT count(*) FROM t LEFT JOIN p ON p.id = t.ref WHERE t.ref IS NOT NULL AND p.id IS NULL") == 0)
        // An incoming key with ON UPDATE CASCADE: the children follow.
        try fixture.forward("002_parent_code", through: .contract)
        #expect(try fixture.int("SELECT count(*) FROM child c LEFT JOIN parent p ON p.code = c.parent_code WHERE p.id IS NULL") == 0)
        #expect(try fixture.int("SELECT count(*) FROM child WHERE parent_code = 'code' || id") == 100)
    }

    /// An `up` or `down` that cannot run (a misspelt function, a function off the pinned
    /// search_path) is refused at expand, located in the plan, before the trigger exists:
    /// installed, it made every write to the table fail.
    @Test func expandRefusesExpressionsThatCannotRun() throws {
        let fixture = try EngineFixture("unrunnable")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE tt (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO tt SELECT g, 'E' || g FROM generate_series(1, 100) AS g;
            CREATE SCHEMA util;
            CREATE FUNCTION util.norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower($1)';
            """)
        let original = try fixture.snapshot("tt")
        let cases: [(id: String, up: String, down: String, mentions: String)] = [
            ("001_typo", "lowr(email)", "email_lc", "lowr(text)"),
            ("002_off_path", "norm(email)", "email_lc", "norm(text)"),
            ("003_down", "lower(email)", "uppr(email_lc)", "uppr(text)"),
        ]
        for (n, c) in cases.enumerated() {
            let path = try fixture.writePlan(c.id, """
                table: tt
                changes:
                  - alter: email
                    rename_to: email_lc
                    up: "\(c.up)"
                    down: "\(c.down)"
                    not_null: true
                """)
            let refusal = expectRefusal { try fixture.run(.expand, c.id) }
            #expect(refusal?.gates == ["expression"], "\(refusal?.text ?? "")")
            let line = c.id == "003_down" ? 6 : 5
            #expect(refusal?.text.contains("\(path):\(line):") == true, "\(refusal?.text ?? "")")
            #expect(refusal?.text.contains("[42883]") == true && refusal?.text.contains(c.mentions) == true, "\(refusal?.text ?? "")")
            #expect(try fixture.snapshot("tt") == original)
            #expect(try fixture.state(c.id)?.phase ?? .planned == .planned)
            #expect(try fixture.int("SELECT count(*) FROM pg_proc WHERE proname LIKE 'sync\\_%'") == 0)
            // The application's writes still work.
            try fixture.exec("UPDATE tt SET email = 'x' WHERE id = 1; INSERT INTO tt VALUES (\(1000 + n), 'q');")
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
