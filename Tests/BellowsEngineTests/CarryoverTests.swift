import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Everything that depends on a replaced column is carried to the new column, recreated, or
/// makes expand refuse before it changes anything (issue 14).
@Suite(needsDatabase)
struct CarryoverTests {
    /// The table's index and constraint definitions, sorted.
    static func definitions(_ fixture: EngineFixture, _ table: String) throws -> [String] {
        try fixture.snapshot(table).shape().filter { $0.hasPrefix("index ") || $0.hasPrefix("constraint ") }
    }

    /// Partial, expression, multi-column, INCLUDE, hash and gist indexes, a multi-column UNIQUE
    /// constraint, a composite foreign key and a CHECK on a renamed column come back exactly,
    /// over the new column, under their names with the column's name replaced.
    @Test func everyKindOfIndexAndConstraintIsRecreated() throws {
        let fixture = try EngineFixture("carry-index")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE tenants_emails (tenant int, email text, PRIMARY KEY (tenant, email));
            CREATE TABLE accounts (
              id bigint PRIMARY KEY, tenant int NOT NULL, email text NOT NULL, deleted boolean NOT NULL DEFAULT false,
              span int4range,
              CONSTRAINT accounts_tenant_email_key UNIQUE (tenant, email),
              CONSTRAINT accounts_email_fkey FOREIGN KEY (tenant, email) REFERENCES tenants_emails (tenant, email),
              CONSTRAINT accounts_email_check CHECK (email <> '')
            );
            CREATE UNIQUE INDEX accounts_live_email ON accounts (email) WHERE NOT deleted;
            CREATE INDEX accounts_lower_email_idx ON accounts (lower(email));
            CREATE INDEX accounts_deleted_email_idx ON accounts (email text_pattern_ops) WHERE deleted;
            CREATE INDEX accounts_email_tenant_idx ON accounts (email DESC, tenant);
            CREATE INDEX accounts_tenant_incl ON accounts (tenant) INCLUDE (email);
            CREATE INDEX accounts_email_hash ON accounts USING hash (email);
            CREATE INDEX accounts_email_span ON accounts USING gist (span) WHERE email IS NOT NULL;
            INSERT INTO tenants_emails SELECT g % 7, 'user' || g || '@example.com' FROM generate_series(1, 300) AS g;
            INSERT INTO accounts (id, tenant, email, deleted) SELECT g, g % 7, 'user' || g || '@example.com', false FROM generate_series(1, 300) AS g;
            """)
        let before = try Self.definitions(fixture, "accounts")
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: address
            """)
        // Rollback from verified removes every recreated object.
        let original = try fixture.snapshot("accounts")
        try fixture.forward(id, through: .verify)
        try fixture.run(.rollback, id)
        let restored = try fixture.snapshot("accounts")
        #expect(restored == original, "\(original.difference(to: restored))")
        try fixture.forward(id, through: .contract)
        let after = try Self.definitions(fixture, "accounts")
        // The referenced table's columns keep their names.
        let expected = before.map { line in
            let parts = line.components(separatedBy: " REFERENCES ")
            return ([parts[0].replacingOccurrences(of: "email", with: "address")] + parts.dropFirst()).joined(separator: " REFERENCES ")
        }.sorted()
        #expect(after == expected, "\nexpected \(expected)\nafter \(after)")
        // The partial unique index is still partial: a deleted duplicate is legal.
        try fixture.exec("""
            INSERT INTO tenants_emails VALUES (2, 'user1@example.com');
            UPDATE accounts SET deleted = true WHERE id = 1;
            INSERT INTO accounts (id, tenant, address, deleted) VALUES (1002, 2, 'user1@example.com', false);
            """)
        #expect(try fixture.int("SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND NOT convalidated") == 0)
    }

    /// A carried index keeps its name with only the column's token renamed (hostile finding
    /// 21: `ix_s_desc` came back as `ix_s2_des2c`), whether it is rebuilt (plain) or recreated
    /// from its definition.
    @Test func carriedIndexNamesRenameOnlyTheColumnsToken() throws {
        let fixture = try EngineFixture("carry-names")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE ix (id bigint PRIMARY KEY, s text NOT NULL, other int);
            CREATE INDEX ix_s_desc ON ix (s DESC NULLS LAST) WITH (fillfactor = 50);
            CREATE INDEX ix_s_sorted ON ix (s);
            INSERT INTO ix SELECT g, 's' || g, g FROM generate_series(1, 100) AS g;
            """)
        let id = "001_rename_s"
        try fixture.writePlan(id, """
            table: ix
            changes:
              - alter: s
                rename_to: s2
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("""
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid = 'ix'::regclass AND NOT indisprimary ORDER BY 1
            """) == [
                ["ix_s2_desc", "CREATE INDEX ix_s2_desc ON public.ix USING btree (s2 DESC NULLS LAST) WITH (fillfactor='50')"],
                ["ix_s2_sorted", "CREATE INDEX ix_s2_sorted ON public.ix USING btree (s2)"],
            ])
    }

    /// A unique index that is no constraint stays an index, under its name with the column's
    /// token renamed (hostile finding 17, 2026-12-02b: `users_email_uq` came back as the UNIQUE
    /// constraint `users_email_address_key`, which `DROP INDEX` cannot drop); a UNIQUE
    /// constraint stays a constraint. `unique: true` on a column whose unique index exists keeps
    /// that index as it is.
    @Test func aUniqueIndexStaysAnIndexUnderItsName() throws {
        let fixture = try EngineFixture("carry-unique")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, login text CONSTRAINT users_login_key UNIQUE, code text);
            CREATE UNIQUE INDEX users_email_uq ON users (email);
            CREATE UNIQUE INDEX users_code_idx ON users (code);
            INSERT INTO users SELECT g, 'u' || g || '@x', 'l' || g, 'c' || g FROM generate_series(1, 10) AS g;
            """)
        try fixture.writePlan("001_rename_email", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
              - alter: login
                rename_to: username
              - alter: code
                rename_to: coupon
                unique: true
            """)
        try fixture.forward("001_rename_email", through: .contract)
        #expect(try fixture.rows("""
            SELECT pg_get_indexdef(i.indexrelid), (SELECT string_agg(conname || ' ' || contype::text, ',') FROM pg_constraint WHERE conindid = i.indexrelid)
            FROM pg_index i WHERE i.indrelid = 'users'::regclass AND NOT i.indisprimary ORDER BY 1
            """) == [
                ["CREATE UNIQUE INDEX users_coupon_idx ON public.users USING btree (coupon)", nil],
                ["CREATE UNIQUE INDEX users_email_address_uq ON public.users USING btree (email_address)", nil],
                ["CREATE UNIQUE INDEX users_username_key ON public.users USING btree (username)", "users_username_key u"],
            ])
        try fixture.exec("DROP INDEX users_email_address_uq")
    }

    /// Column-level privileges on a replaced column hold on its replacement from expand on,
    /// so new code running as a least-privilege role can write the new column during the
    /// transition (hostile finding 02), and still after contract; rollback takes them away
    /// with the column. The roles here are no superusers.
    @Test func columnPrivilegesHoldOnTheNewColumnFromExpandOn() throws {
        let fixture = try EngineFixture("carry-grants")
        defer { fixture.close() }
        let app = "bellows_app_" + String(fixture.db.name.suffix(8)).filter { $0.isLetter || $0.isNumber }
        try fixture.exec("DROP ROLE IF EXISTS \(app); CREATE ROLE \(app) NOSUPERUSER")
        defer { _ = try? fixture.sql.executeScript("RESET ROLE; DROP OWNED BY \(app); DROP ROLE IF EXISTS \(app)") }
        try fixture.exec("""
            CREATE TABLE t2 (id bigint PRIMARY KEY, email text NOT NULL, score integer);
            GRANT SELECT (id, email, score), UPDATE (email, score), INSERT (id, email) ON t2 TO \(app);
            INSERT INTO t2 SELECT g, 'e' || g, g FROM generate_series(1, 100) AS g;
            """)
        let original = try fixture.snapshot("t2")
        let id = "001_grants"
        try fixture.writePlan(id, """
            table: t2
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
              - alter: score
                type: bigint
                up: score::bigint
                down: score::integer
            """)
        let notes = Shared<[String]>([])
        try fixture.engine(reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }).run(.expand, plan: id)
        #expect(notes.current.contains { $0.contains("column privileges of email: carried") && $0.contains("UPDATE to \(app)") }, "\(notes.current)")
        /// The new columns as the application role sees them: what it may do to each.
        func privileges(_ columns: [String]) throws -> [[String?]] {
            try fixture.rows("""
                SELECT c, has_column_privilege($1, 't2', c, 'SELECT')::text, has_column_privilege($1, 't2', c, 'INSERT')::text,
                       has_column_privilege($1, 't2', c, 'UPDATE')::text
                FROM unnest($2::text[]) AS c ORDER BY c
                """, [app, PostgresArray.literal(columns)])
        }
        let shadow = TransitionNames.shadowColumn("score")
        #expect(try privileges(["email_address", shadow]) == [
            ["_bellows_score", "true", "false", "true"], ["email_address", "true", "true", "true"],
        ])
        // New code, as the role, writes the new column during the transition; old code reads it.
        try fixture.exec("""
            SET ROLE \(app);
            INSERT INTO t2 (id, email_address) VALUES (1001, 'new@example.com');
            UPDATE t2 SET email_address = 'changed@example.com' WHERE id = 5;
            RESET ROLE;
            """)
        #expect(try fixture.rows("SELECT email FROM t2 WHERE id IN (5, 1001) ORDER BY id") == [["changed@example.com"], ["new@example.com"]])

        try fixture.run(.rollback, id)
        let restored = try fixture.snapshot("t2")
        #expect(restored == original, "\(original.difference(to: restored))")
        #expect(try fixture.rows("SELECT count(*) FROM pg_attribute WHERE attrelid = 't2'::regclass AND attname = ANY ($1::text[])",
                                 [PostgresArray.literal(["email_address", shadow])]) == [["0"]])

        try fixture.forward(id, through: .contract)
        #expect(try privileges(["email_address", "score"]) == [
            ["email_address", "true", "true", "true"], ["score", "true", "false", "true"],
        ])
    }

    /// The column's ACL entries as `grantee=privilege/grantor`, sorted.
    static func acl(_ fixture: EngineFixture, _ table: String, _ column: String) throws -> [String] {
        try fixture.rows("""
            SELECT coalesce(r.rolname, 'PUBLIC') || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END || '/' || g.rolname
            FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) AS x LEFT JOIN pg_roles r ON r.oid = x.grantee
            JOIN pg_roles g ON g.oid = x.grantor
            WHERE a.attrelid = $1::regclass AND a.attname = $2 ORDER BY 1
            """, [table, column]).map { $0.first.flatMap { $0 } ?? "" }
    }

    /// Hostile finding 02: a column privilege revoked on the old column during the transition
    /// stays revoked after contract (contract only added the old column's grants, so the
    /// revoked role and PUBLIC read the final column again).
    @Test func aPrivilegeRevokedDuringTheTransitionStaysRevoked() throws {
        let fixture = try EngineFixture("carry-revoke")
        defer { fixture.close() }
        let support = "bellows_support_" + String(fixture.db.name.suffix(8)).filter { $0.isLetter || $0.isNumber }
        try fixture.exec("DROP ROLE IF EXISTS \(support); CREATE ROLE \(support) NOSUPERUSER")
        defer { _ = try? fixture.sql.executeScript("RESET ROLE; DROP OWNED BY \(support); DROP ROLE IF EXISTS \(support)") }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, secret text);
            INSERT INTO users SELECT g, 'u' || g || '@x' FROM generate_series(1, 10) g;
            GRANT SELECT (id, email) ON users TO PUBLIC;
            GRANT SELECT (id, email, secret) ON users TO \(support);
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
            """)
        try fixture.run(.expand, id)
        try fixture.exec("REVOKE SELECT (email) ON users FROM \(support); REVOKE SELECT (email) ON users FROM PUBLIC")
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try Self.acl(fixture, "users", "email_address") == [])
        #expect(try fixture.rows("SELECT has_column_privilege($1, 'users', 'email_address', 'SELECT')::text, has_column_privilege($1, 'users', 'id', 'SELECT')::text",
                                 [support]) == [["false", "true"]])
    }

    /// Hostile finding 12: a carried grant keeps its grantor, at expand and after contract,
    /// so the grantor's REVOKE removes it (Bellows granted it as the owner: it stayed).
    @Test func carriedPrivilegesKeepTheirGrantor() throws {
        let fixture = try EngineFixture("carry-grantor")
        defer { fixture.close() }
        let suffix = String(fixture.db.name.suffix(8)).filter { $0.isLetter || $0.isNumber }
        let lead = "bellows_lead_" + suffix, contractor = "bellows_contractor_" + suffix
        try fixture.exec("DROP ROLE IF EXISTS \(lead); DROP ROLE IF EXISTS \(contractor); CREATE ROLE \(lead) NOSUPERUSER; CREATE ROLE \(contractor) NOSUPERUSER")
        defer { _ = try? fixture.sql.executeScript("RESET ROLE; DROP OWNED BY \(contractor), \(lead); DROP ROLE IF EXISTS \(contractor); DROP ROLE IF EXISTS \(lead)") }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO users SELECT g, 'u' || g || '@x' FROM generate_series(1, 10) g;
            GRANT SELECT (id, email) ON users TO \(lead) WITH GRANT OPTION;
            SET ROLE \(lead);
            GRANT SELECT (id, email) ON users TO \(contractor);
            RESET ROLE;
            """)
        let before = try Self.acl(fixture, "users", "email")
        #expect(before.contains("\(contractor)=SELECT/\(lead)"), "\(before)")
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
            """)
        try fixture.run(.expand, id)
        let shadow = try fixture.rows("SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped AND attname NOT IN ('id', 'email')")
            .compactMap { $0.first.flatMap { $0 } }
        #expect(shadow.count == 1)
        #expect(try Self.acl(fixture, "users", shadow.first ?? "") == before)
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try Self.acl(fixture, "users", "email_address") == before)
        try fixture.exec("""
            SET ROLE \(lead);
            REVOKE SELECT (id, email_address) ON users FROM \(contractor);
            RESET ROLE;
            """)
        #expect(try fixture.rows("SELECT has_column_privilege($1, 'users', 'email_address', 'SELECT')::text", [contractor]) == [["false"]])
    }

    /// A serial column's sequence, an identity-free column's collation, comment, statistics
    /// target, storage and privileges, and the replica identity index all survive a rename.
    @Test func columnPropertiesAndTheReplicaIdentityAreCarried() throws {
        let fixture = try EngineFixture("carry-props")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE tickets (id bigint PRIMARY KEY, ticket serial, name text COLLATE "C", code text NOT NULL);
            CREATE UNIQUE INDEX tickets_code_key ON tickets (code);
            ALTER TABLE tickets REPLICA IDENTITY USING INDEX tickets_code_key;
            COMMENT ON COLUMN tickets.name IS 'the holder''s name';
            ALTER TABLE tickets ALTER COLUMN name SET STATISTICS 500, ALTER COLUMN name SET STORAGE EXTERNAL;
            GRANT SELECT (name), UPDATE (name) ON tickets TO PUBLIC;
            INSERT INTO tickets (id, name, code) SELECT g, 'n' || g, 'c' || g FROM generate_series(1, 200) AS g;
            """)
        let id = "001_rename_props"
        try fixture.writePlan(id, """
            table: tickets
            changes:
              - alter: ticket
                rename_to: ticket_no
              - alter: name
                rename_to: holder
              - alter: code
                rename_to: ticket_code
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("SELECT pg_get_serial_sequence('tickets', 'ticket_no')") == [["public.tickets_ticket_seq"]])
        #expect(try fixture.rows("""
            SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
            WHERE a.attrelid = 'tickets'::regclass AND a.attname = 'ticket_no'
            """) == [["nextval('tickets_ticket_seq'::regclass)"]])
        try fixture.exec("INSERT INTO tickets (id, holder, ticket_code) VALUES (1001, 'x', 'c1001')")
        #expect(try fixture.int("SELECT ticket_no FROM tickets WHERE id = 1001") == 201)
        #expect(try fixture.rows("""
            SELECT co.collname, col_description(a.attrelid, a.attnum), a.attstattarget::text, a.attstorage::text,
                   array_to_string(a.attacl, ',')
            FROM pg_attribute a JOIN pg_collation co ON co.oid = a.attcollation
            WHERE a.attrelid = 'tickets'::regclass AND a.attname = 'holder'
            """) == [["C", "the holder's name", "500", "e", "=rw/\(try fixture.rows("SELECT current_user")[0][0] ?? "")"]])
        #expect(try fixture.rows("""
            SELECT c.relreplident::text, ic.relname FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisreplident
            JOIN pg_class ic ON ic.oid = i.indexrelid WHERE c.oid = 'tickets'::regclass
            """) == [["i", "tickets_ticket_code_key"]])
    }

    /// An identity column keeps its identity, its sequence (name, steps, position) through a
    /// rename and through a widening retype.
    @Test func anIdentityMovesWithItsSequence() throws {
        let fixture = try EngineFixture("carry-identity")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE orders (id bigint PRIMARY KEY, number int GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5),
                                 seat int GENERATED BY DEFAULT AS IDENTITY);
            INSERT INTO orders (id) SELECT g FROM generate_series(1, 10) AS g;
            """)
        let id = "001_identity"
        try fixture.writePlan(id, """
            table: orders
            changes:
              - alter: number
                rename_to: order_number
              - alter: seat
                type: bigint
                up: "seat::bigint"
                down: "seat::int"
            """)
        try fixture.forward(id, through: .contract)
        try fixture.exec("INSERT INTO orders (id) VALUES (11)")
        #expect(try fixture.rows("SELECT order_number, seat FROM orders WHERE id IN (10, 11) ORDER BY id") == [["145", "10"], ["150", "11"]])
        #expect(try fixture.rows("""
            SELECT a.attname, a.attidentity::text, format_type(a.atttypid, a.atttypmod), pg_get_serial_sequence('orders', a.attname)
            FROM pg_attribute a WHERE a.attrelid = 'orders'::regclass AND a.attidentity <> '' AND NOT a.attisdropped ORDER BY 1
            """) == [["order_number", "a", "integer", "public.orders_number_seq"], ["seat", "d", "bigint", "public.orders_seat_seq"]])
        #expect(try fixture.rows("SELECT seqincrement::text, seqmax::text FROM pg_sequence WHERE seqrelid = 'orders_number_seq'::regclass") == [["5", "2147483647"]])
    }

    /// A serial column widened to bigint: its owned sequence becomes `AS bigint` at contract
    /// (its MAXVALUE rises with it), so inserts go on past 2³¹−1 (hostile-d 37: the sequence stayed
    /// `AS integer` and the next insert past the limit failed as before). One whose MAXVALUE was set
    /// explicitly keeps it. Rollback from verified leaves both sequences exactly as they were.
    @Test func aSerialWidenedToBigintGetsABigintSequence() throws {
        let fixture = try EngineFixture("carry-serial-widen")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE tickets (id bigint PRIMARY KEY, ticket_no serial NOT NULL, capped serial NOT NULL, body text);
            ALTER SEQUENCE tickets_capped_seq MAXVALUE 2000000000;
            INSERT INTO tickets (id, body) SELECT g, 'b' FROM generate_series(1, 20) AS g;
            SELECT setval('tickets_ticket_no_seq', 2147483600);
            """)
        let id = "001_widen"
        try fixture.writePlan(id, """
            table: tickets
            changes:
              - alter: ticket_no
                type: bigint
                up: "ticket_no::bigint"
                down: "ticket_no::int"
              - alter: capped
                type: bigint
                up: "capped::bigint"
                down: "capped::int"
            """)
        let sequences = """
            SELECT seqrelid::regclass::text, format_type(seqtypid, NULL), seqmin::text, seqmax::text FROM pg_sequence
            WHERE seqrelid IN ('tickets_ticket_no_seq'::regclass, 'tickets_capped_seq'::regclass) ORDER BY 1
            """
        let original = try fixture.rows(sequences)
        #expect(original == [["tickets_capped_seq", "integer", "1", "2000000000"], ["tickets_ticket_no_seq", "integer", "1", "2147483647"]])
        try fixture.forward(id, through: .verify)
        try fixture.run(.rollback, id)
        #expect(try fixture.rows(sequences) == original)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows(sequences) == [["tickets_capped_seq", "bigint", "1", "2000000000"],
                                                ["tickets_ticket_no_seq", "bigint", "1", "9223372036854775807"]])
        try fixture.exec("INSERT INTO tickets (id, body) SELECT 100 + g, 'x' FROM generate_series(1, 100) AS g")
        #expect(try fixture.int("SELECT max(ticket_no) FROM tickets") == 2147483700)
        #expect(try fixture.rows("SELECT pg_get_serial_sequence('tickets', 'ticket_no')") == [["public.tickets_ticket_no_seq"]])
    }

    /// Objects contract cannot carry are found before expand: the plan is refused and the
    /// database is left exactly as it was.
    @Test(arguments: [
        ("view", "CREATE VIEW active AS SELECT id, email FROM accounts"),
        ("matview", "CREATE MATERIALIZED VIEW m AS SELECT email FROM accounts"),
        ("incoming-fk", "CREATE TABLE logins (email text REFERENCES accounts (email))"),
        ("policy", "CREATE POLICY p ON accounts USING (email <> '')"),
        ("trigger", """
            CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
            CREATE TRIGGER t BEFORE UPDATE OF email ON accounts FOR EACH ROW EXECUTE FUNCTION noop()
            """),
        ("trigger-when", """
            CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
            CREATE TRIGGER t BEFORE UPDATE ON accounts FOR EACH ROW WHEN (NEW.email IS NULL) EXECUTE FUNCTION noop()
            """),
        ("generated", "ALTER TABLE accounts ADD COLUMN domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED"),
        ("statistics", "CREATE STATISTICS s ON id, email FROM accounts"),
        ("publication", "CREATE PUBLICATION pub FOR TABLE accounts (id, email)"),
    ])
    func dependentsContractCannotCarryAreRefusedBeforeExpand(_ name: String, _ setup: String) throws {
        let fixture = try EngineFixture("carry-refuse-\(name)")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
            INSERT INTO accounts SELECT g, 'user' || g FROM generate_series(1, 50) AS g;
            """)
        try fixture.exec(setup)
        try Self.expectRefusedBeforeExpand(fixture, table: "accounts", column: "email", to: "address", mentioning: "email")
    }

    /// A column of another table storing the table's row type — directly, as an array, through
    /// a domain or inside a composite type — is refused before expand (hostile-d 35: contract's
    /// DROP COLUMN erased `email` from every stored value, the new field read NULL, all green);
    /// the stored values keep their field, and `check --database` says so too.
    @Test(arguments: [
        ("direct", "CREATE TABLE snapshots (id bigint, data accounts)", "snapshots.data"),
        ("array", "CREATE TABLE snapshots (id bigint, data accounts[])", "snapshots.data"),
        ("domain", "CREATE DOMAIN account_d AS accounts; CREATE TABLE snapshots (id bigint, data account_d)", "snapshots.data"),
        ("composite", "CREATE TYPE account_ref AS (a accounts, note text); CREATE TABLE snapshots (id bigint, data account_ref[])", "snapshots.data"),
    ])
    func aColumnStoringTheTablesRowTypeIsRefusedBeforeExpand(_ name: String, _ setup: String, _ column: String) throws {
        let fixture = try EngineFixture("carry-rowtype-\(name)")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text, name text);
            INSERT INTO accounts SELECT g, 'u' || g || '@x', 'n' || g FROM generate_series(1, 20) AS g;
            """)
        try fixture.exec(setup)
        try Self.expectRefusedBeforeExpand(fixture, table: "accounts", column: "email", to: "email_address", mentioning: column)
        let findings = ProjectCheck.check(project: fixture.project, includeLint: false, live: try LiveSchema.read(conninfo: fixture.db.conninfo))
        #expect(findings.contains { $0.severity == .error && $0.rule == "plan-dependent-object" && $0.message.contains(column)
            && $0.message.contains("email") }, "\(findings.map(\.description))")
        // A plan that only adds a column loses nothing: not refused.
        #expect(try fixture.writePlan("002_add", """
            table: accounts
            depends_on:
              plans: [001_rename]
            changes:
              - add: nickname
                type: text
            """) != "")
        let add = ProjectCheck.check(project: fixture.project, paths: [fixture.root + "/plans/002_add.yaml"], includeLint: false,
                                     live: try LiveSchema.read(conninfo: fixture.db.conninfo))
        #expect(!add.contains { $0.rule == "plan-dependent-object" && $0.file.hasSuffix("002_add.yaml") }, "\(add.map(\.description))")
    }

    /// Expand of a plan renaming `column` is refused, naming `mentioning`, and changes nothing.
    static func expectRefusedBeforeExpand(_ fixture: EngineFixture, table: String, column: String, to final: String,
                                          mentioning: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let id = "001_rename"
        try fixture.writePlan(id, """
            table: \(table)
            changes:
              - alter: \(column)
                rename_to: \(final)
            """)
        let original = try fixture.snapshot(table)
        let refusal = expectRefusal({ try fixture.run(.expand, id) }, sourceLocation: sourceLocation)
        #expect(refusal?.text.contains(mentioning) == true, "\(refusal?.text ?? "")", sourceLocation: sourceLocation)
        #expect(try fixture.snapshot(table) == original, sourceLocation: sourceLocation)
        #expect(try fixture.state(id)?.phase ?? .planned == .planned, sourceLocation: sourceLocation)
    }

    /// A partitioned table is refused before expand (its concurrent index builds would fail
    /// after the new columns were committed).
    @Test func aPartitionedTableIsRefusedBeforeExpand() throws {
        let fixture = try EngineFixture("carry-partitioned")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, kind text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE INDEX events_kind_idx ON events (kind);
            INSERT INTO events SELECT g, date '2026-01-01' + g, 'k' || g FROM generate_series(1, 100) AS g;
            """)
        try Self.expectRefusedBeforeExpand(fixture, table: "events", column: "kind", to: "event_kind", mentioning: "partitioned")
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname LIKE '\\_bellows\\_%'") == 0)
    }

    /// hostile-f 06: enum → text with a partial index `WHERE status = 'open'::the_enum`. The
    /// predicate was carried with the column renamed, not re-typed: expand committed the new
    /// column and trigger, then failed building the index (42883), `planned*` for ever. Expand
    /// now builds each index on an empty copy first and refuses, naming it, before any change;
    /// with the index dropped first the plan goes through contract.
    @Test func aTypeChangeWhoseIndexPredicateDoesNotFitRefusesExpandBeforeAnyChange() throws {
        let fixture = try EngineFixture("carry-enum-predicate")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TYPE invoice_status AS ENUM ('draft', 'open', 'paid', 'void');
            CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id bigint NOT NULL,
                                   status invoice_status DEFAULT 'draft'::invoice_status NOT NULL);
            CREATE INDEX invoices_customer_open_idx ON invoices USING btree (customer_id) WHERE (status = 'open'::invoice_status);
            INSERT INTO invoices (customer_id, status)
                SELECT g, (ARRAY['draft','open','paid','void'])[1 + g % 4]::invoice_status FROM generate_series(1, 200) g;
            """)
        let id = "004_status_text"
        try fixture.writePlan(id, """
            table: invoices
            changes:
              - alter: status
                type: text
                up: status::text
                down: status::invoice_status
                check: "status IN ('draft','open','paid','void','refunded')"
            """)
        let before = try fixture.snapshot("invoices")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.text.contains("invoices_customer_open_idx") == true && refusal?.text.contains("42883") == true, "\(refusal?.text ?? "")")
        let after = try fixture.snapshot("invoices")
        #expect(before == after, "\(before.difference(to: after))")
        let state = try fixture.state(id)
        #expect(state == nil || (state?.phase == .planned && state?.expanding == false))
        // As the refusal says: dropped before expand (no predicate over an enum fits text:
        // `status::text` is not immutable), the plan goes through contract.
        try fixture.exec("DROP INDEX invoices_customer_open_idx")
        try fixture.forward(id, through: .contract)
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'invoices'::regclass AND attname = 'status' AND atttypid = 'text'::regtype") == 1)
    }

    /// A final index name already taken by another table's index in the schema is found at
    /// expand, not when contract fails.
    @Test func aFinalIndexNameTakenInTheSchemaIsRefusedAtExpand() throws {
        let fixture = try EngineFixture("carry-names")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text);
            CREATE INDEX accounts_email_idx ON accounts (email);
            CREATE TABLE other (id bigint);
            CREATE INDEX accounts_address_idx ON other (id);
            """)
        try Self.expectRefusedBeforeExpand(fixture, table: "accounts", column: "email", to: "address", mentioning: "accounts_address_idx")
    }

    /// Hostile-d 36: a foreign key `ON DELETE SET NULL (parent_id)` (PostgreSQL 15's column list)
    /// over a renamed column: the action's list is renamed too (it was left as `parent_id`, and
    /// expand failed 42P10). After contract the action still nulls only the renamed column.
    @Test func aSetNullColumnListFollowsTheRenamedColumn() throws {
        let fixture = try EngineFixture("carry-setnull-list")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE parents (tenant_id int, id int, PRIMARY KEY (tenant_id, id));
            CREATE TABLE children (id bigint PRIMARY KEY, tenant_id int NOT NULL, parent_id int,
              CONSTRAINT children_parent_fk FOREIGN KEY (tenant_id, parent_id) REFERENCES parents (tenant_id, id) ON DELETE SET NULL (parent_id));
            INSERT INTO parents SELECT 1, g FROM generate_series(1, 10) g;
            INSERT INTO children SELECT g, 1, 1 + g % 10 FROM generate_series(1, 100) g;
            """)
        let id = "001_rename"
        try fixture.writePlan(id, """
            table: children
            changes:
              - alter: parent_id
                rename_to: parent_ref
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("""
            SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'children'::regclass AND contype = 'f'
            """) == [["children_parent_fk", "FOREIGN KEY (tenant_id, parent_ref) REFERENCES parents(tenant_id, id) ON DELETE SET NULL (parent_ref)"]])
        try fixture.exec("DELETE FROM parents WHERE id = 2")
        #expect(try fixture.int("SELECT count(*) FROM children WHERE parent_ref IS NULL AND tenant_id = 1") == 10)
    }

    /// Hostile-d 04: a plain single-column index and a single-column foreign key keep their own
    /// names on a rename; only a name holding the column's token has it renamed
    /// (`items_code_once` → `items_sku_once`, the UNIQUE constraint `uq_items_serial` →
    /// `uq_items_serial_no`, where it used to get PostgreSQL's `items_serial_no_key`).
    @Test func carriedObjectsKeepTheirOwnNames() throws {
        let fixture = try EngineFixture("carry-own-names")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE parents (id bigint PRIMARY KEY);
            INSERT INTO parents VALUES (1);
            CREATE TABLE items (id bigint PRIMARY KEY, parent_id bigint, code text, serial text,
                                CONSTRAINT uq_items_serial UNIQUE (serial));
            INSERT INTO items SELECT g, 1, 'c' || g, 's' || g FROM generate_series(1, 100) g;
            CREATE INDEX items_by_parent ON items (parent_id);
            CREATE INDEX items_lookup ON items (parent_id, code);
            CREATE INDEX items_recent_parent ON items (parent_id) WHERE id > 50;
            CREATE UNIQUE INDEX items_code_once ON items (code);
            ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (parent_id) REFERENCES parents (id);
            """)
        let id = "001_rename"
        try fixture.writePlan(id, """
            table: items
            changes:
              - alter: parent_id
                rename_to: owner_id
              - alter: code
                rename_to: sku
              - alter: serial
                rename_to: serial_no
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'items'::regclass ORDER BY 1") == [
            ["items_by_parent"], ["items_lookup"], ["items_pkey"], ["items_recent_parent"], ["items_sku_once"], ["uq_items_serial_no"],
        ])
        #expect(try fixture.rows("SELECT conname::text, contype::text FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype <> 'n' ORDER BY 1") == [
            ["fk_items_owner", "f"], ["items_pkey", "p"], ["uq_items_serial_no", "u"],
        ])
        #expect(try fixture.rows("SELECT pg_get_indexdef('items_by_parent'::regclass)") == [["CREATE INDEX items_by_parent ON public.items USING btree (owner_id)"]])
    }

    /// Hostile-d 28: `unique: false` on a column whose unique index (or UNIQUE constraint) another
    /// table's foreign key references is refused before expand, naming the key: PostgreSQL
    /// refuses to drop it, so contract failed every time (and the index was dropped as a constraint).
    @Test(arguments: [false, true])
    func notUniqueOnAKeyAForeignKeyReferencesIsRefusedBeforeExpand(_ constraint: Bool) throws {
        let fixture = try EngineFixture("carry-unique-referenced-\(constraint)")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE skus (id bigint PRIMARY KEY, code text NOT NULL);
            """ + (constraint ? "ALTER TABLE skus ADD CONSTRAINT skus_code_uq UNIQUE (code);" : "CREATE UNIQUE INDEX skus_code_uq ON skus (code);") + """

            CREATE TABLE lines (id bigint PRIMARY KEY, sku_code text REFERENCES skus (code));
            INSERT INTO skus SELECT g, 'S' || g FROM generate_series(1, 100) g;
            INSERT INTO lines SELECT g, 'S' || g FROM generate_series(1, 10) g;
            """)
        let id = "001_code_not_unique"
        try fixture.writePlan(id, """
            table: skus
            changes:
              - alter: code
                unique: false
            """)
        let catalog = try fixture.snapshot("skus")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.text.contains("skus_code_uq") == true && refusal?.text.contains("lines_sku_code_fkey") == true
                && refusal?.failures.contains { "\($0.message) \($0.remedy ?? "")".contains("plan-dependent-object") } == true, "\(refusal?.text ?? "")")
        #expect(try fixture.snapshot("skus") == catalog)
        #expect(try fixture.state(id)?.phase ?? .planned == .planned)
    }
}
