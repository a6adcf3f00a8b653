import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// `rename_table_to:` against a real PostgreSQL (docs/plans.md#renaming-a-table).
@Suite(needsDatabase)
struct TableRenameEngineTests {
    static let schema = """
        CREATE TABLE members (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            code serial,
            email text NOT NULL UNIQUE,
            referrer bigint REFERENCES members (id),
            score integer NOT NULL DEFAULT 0 CHECK (score >= 0)
        );
        CREATE INDEX members_lower_email_idx ON members (lower(email));
        CREATE INDEX keep_score_idx ON members (score);
        CREATE TABLE orders (id bigint PRIMARY KEY, member_id bigint NOT NULL REFERENCES members (id));
        INSERT INTO members (email, score) SELECT 'm' || g || '@example.com', g FROM generate_series(1, 200) AS g;
        INSERT INTO orders SELECT g, g FROM generate_series(1, 50) AS g;
        """

    static let plan = """
        table: members
        rename_table_to: people
        """

    /// The before-snapshot as contract must leave the database: every `members` in a name or
    /// definition is `people` (the names PostgreSQL generated, the foreign keys' targets, the
    /// sequences in the defaults), nothing else differs.
    static func renamed(_ snapshot: DatabaseSnapshot) -> DatabaseSnapshot {
        DatabaseSnapshot(objects: Dictionary(uniqueKeysWithValues: snapshot.objects.map { key, object in
            (key.replacingOccurrences(of: "members", with: "people"),
             DatabaseSnapshot.Object(definition: object.definition.replacingOccurrences(of: "members", with: "people"),
                                     parent: object.parent?.replacingOccurrences(of: "members", with: "people")))
        }))
    }

    /// Expand → the new version inserts through the new name (the identity and serial defaults
    /// apply, explicit DEFAULT too), the old version through the old name, both see every row →
    /// contract renames the table, its indexes, constraints and sequences; the foreign key of
    /// another table follows; nothing else in the catalog changed.
    @Test func expandServesBothNamesAndContractRenamesEverything() throws {
        let fixture = try EngineFixture("table-rename")
        defer { fixture.close() }
        try fixture.exec(Self.schema)
        let id = "001_rename_members"
        try fixture.writePlan(id, Self.plan)
        let before = try DatabaseSnapshot.take(fixture.sql)

        try fixture.run(.expand, id)
        #expect(try fixture.int("SELECT count(*) FROM pg_views WHERE schemaname = 'public' AND viewname = 'people'") == 1)
        let line = try #require(try fixture.engine().status().first { $0.id == id })
        #expect(line.renamedTo == "people" && line.table == "members" && line.blockers.isEmpty, "\(line)")
        // The new version, by the new name: identity, serial and plain defaults apply.
        let newID = try fixture.int("INSERT INTO people (email) VALUES ('new@example.com') RETURNING id")
        #expect(newID == 201)
        try fixture.exec("INSERT INTO people (id, email, score) VALUES (DEFAULT, 'new2@example.com', DEFAULT)")
        #expect(try fixture.rows("SELECT code::text, score::text FROM members WHERE email = 'new@example.com'") == [["201", "0"]])
        // The old version, by the old name.
        try fixture.exec("INSERT INTO members (email) VALUES ('old@example.com')")
        try fixture.exec("UPDATE people SET score = 7 WHERE email = 'old@example.com'")
        try fixture.exec("INSERT INTO orders VALUES (1000, \(newID))")
        #expect(try fixture.int("SELECT count(*) FROM people") == 203)
        #expect(try fixture.int("SELECT score FROM members WHERE email = 'old@example.com'") == 7)

        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        let contracted = try fixture.run(.contract, id)
        #expect(try fixture.state(id)?.phase == .contracted, "\(contracted)")

        #expect(try fixture.rows("SELECT to_regclass('members')::text, (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('people'))") == [[nil, "r"]])
        #expect(try fixture.int("SELECT count(*) FROM people") == 203)
        let names = try fixture.rows("""
            SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('i', 'S') ORDER BY 1
            """).map { $0[0] ?? "" }
        #expect(names == ["keep_score_idx", "orders_pkey", "people_code_seq", "people_email_key", "people_id_seq", "people_lower_email_idx", "people_pkey"])
        // (PostgreSQL 18 keeps NOT NULL constraints in pg_constraint, contype 'n': renamed too, below.)
        let constraints = try fixture.rows("SELECT conname::text FROM pg_constraint WHERE conrelid = 'people'::regclass AND contype <> 'n' ORDER BY 1").map { $0[0] ?? "" }
        #expect(try fixture.int("SELECT count(*) FROM pg_constraint WHERE conrelid = 'people'::regclass AND conname LIKE 'members%'") == 0)
        #expect(constraints == ["people_email_key", "people_pkey", "people_referrer_fkey", "people_score_check"])
        // Another table's foreign key follows the table (by OID), and still holds.
        #expect(try fixture.rows("SELECT confrelid::regclass::text FROM pg_constraint WHERE conname = 'orders_member_id_fkey'") == [["people"]])
        #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO orders VALUES (2000, 999999)") }
        // The identity and the serial keep counting (contract's writability proof drew a value).
        let afterID = try fixture.int("INSERT INTO people (email) VALUES ('after@example.com') RETURNING id")
        #expect(afterID > 203)
        #expect(try fixture.int("SELECT code FROM people WHERE email = 'after@example.com'") > 203)

        let after = try DatabaseSnapshot.take(fixture.sql)
        let expected = Self.renamed(before)
        #expect(after == expected, "\(expected.difference(to: after, moment: "after contract", reference: "expected"))")
        let event = try #require(try fixture.events(id).last { $0.command == "contract" })
        #expect("\(event.details)".contains("table members -> people"), "\(event.details)")
    }

    /// Rollback from each phase before contract drops the view: the catalog is exactly as before.
    @Test func rollbackRestoresTheCatalogExactly() throws {
        let fixture = try EngineFixture("table-rename-rollback")
        defer { fixture.close() }
        try fixture.exec(Self.schema)
        let id = "001_rename_members"
        try fixture.writePlan(id, Self.plan)
        let before = try DatabaseSnapshot.take(fixture.sql)
        for last in [PhaseCommand.expand, .backfill, .verify] {
            try fixture.forward(id, through: last)
            try fixture.exec("INSERT INTO people (email) VALUES ('via-view-\(last.rawValue)@example.com')")
            try fixture.run(.rollback, id)
            #expect(try fixture.state(id)?.phase == .rolledBack)
            let after = try DatabaseSnapshot.take(fixture.sql)
            #expect(after == before, "after \(last.rawValue): \(before.difference(to: after))")
        }
        #expect(try fixture.int("SELECT count(*) FROM members") == 203)
    }

    /// The new name taken (by a table, or by a type): expand refuses before any change.
    @Test func aTakenNameIsRefusedBeforeAnyChange() throws {
        let fixture = try EngineFixture("table-rename-taken")
        defer { fixture.close() }
        try fixture.exec(Self.schema + "\nCREATE TABLE people (id int);")
        let id = "001_rename_members"
        try fixture.writePlan(id, Self.plan)
        let before = try DatabaseSnapshot.take(fixture.sql)
        let refusal = try #require(expectRefusal { try fixture.run(.expand, id) })
        #expect(refusal.gates == ["table-rename"], "\(refusal.text)")
        #expect(refusal.text.contains("public.people is taken (a table)"), "\(refusal.text)")
        #expect(refusal.text.contains("001_rename_members.yaml:2:18"), "\(refusal.text)")
        #expect(try DatabaseSnapshot.take(fixture.sql) == before)
        #expect((try fixture.state(id)?.phase ?? .planned) == .planned)

        try fixture.exec("DROP TABLE people; CREATE TYPE people AS ENUM ('a');")
        let typeRefusal = try #require(expectRefusal { try fixture.run(.expand, id) })
        #expect(typeRefusal.gates == ["table-rename"], "\(typeRefusal.text)")
        #expect(typeRefusal.text.contains("a type public.people exists"), "\(typeRefusal.text)")
    }

    /// hostile-h 07: a table a publication sends (here with a column list: the name is sent all
    /// the same) would stop every subscriber at contract, which finds its table by the old name.
    /// check -d and render -d say so, expand refuses before any change; a publication made
    /// after expand (here FOR TABLES IN SCHEMA) stops contract.
    @Test func aPublishedTableIsRefusedByCheckExpandAndContract() throws {
        let fixture = try EngineFixture("table-rename-published")
        defer { fixture.close() }
        try fixture.exec(Self.schema + "\nCREATE PUBLICATION pub_members FOR TABLE members (id, email);")
        let id = "001_rename_members"
        try fixture.writePlan(id, Self.plan)
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo, planTables: fixture.project.loadPlans().plans.map(\.table.value))
        let refused = ProjectCheck.check(project: fixture.project, live: live).filter { $0.rule == "plan-table-refused" }
        #expect(refused.count == 1 && refused.allSatisfy { $0.severity == .error }, "\(refused)")
        #expect(refused.first?.message.contains("is published by pub_members") == true, "\(refused)")
        #expect(refused.first?.message.contains("rename the table with the subscribers") == true, "\(refused)")
        let sql = try ProjectCheck.render(project: fixture.project, plan: id, phase: .expand, live: live)
        #expect(sql.contains("-- expand would refuse (gate publication): \"members\" is published by pub_members"), "\(sql.prefix(800))")
        let before = try DatabaseSnapshot.take(fixture.sql)
        let refusal = try #require(expectRefusal { try fixture.run(.expand, id) })
        #expect(refusal.gates == ["publication"], "\(refusal.text)")
        #expect(refusal.text.contains("pub_members") && refusal.text.contains("subscriber"), "\(refusal.text)")
        #expect(try DatabaseSnapshot.take(fixture.sql) == before)
        #expect((try fixture.state(id)?.phase ?? .planned) == .planned)

        try fixture.exec("DROP PUBLICATION pub_members")
        try fixture.forward(id, through: .verify)
        try fixture.exec("CREATE PUBLICATION pub_public FOR TABLES IN SCHEMA public")
        let late = try #require(expectRefusal { try fixture.run(.contract, id) })
        #expect(late.gates.contains("publication") && late.text.contains("pub_public"), "\(late.text)")
        #expect(try fixture.rows("SELECT (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('members'))") == [["r"]])
        try fixture.exec("DROP PUBLICATION pub_public")
    }

    /// hostile-h 16: until contract the new name is a view, which refuses COPY, TRUNCATE and ON
    /// CONFLICT ON CONSTRAINT. Expand says so, and the forms docs/plans.md gives instead work
    /// through the view (and on the table after contract).
    @Test func expandSaysWhatTheViewCannotDoAndTheDocumentedFormsWorkOnBothNames() throws {
        let fixture = try EngineFixture("table-rename-view-limits")
        defer { fixture.close() }
        try fixture.exec(Self.schema)
        let id = "001_rename_members"
        try fixture.writePlan(id, Self.plan)
        let messages = Shared<[String]>([])
        try fixture.engine(reporter: { note in
            if case .info(let text) = note { messages.update { $0.append(text) } }
        }).run(.expand, plan: id)
        let said = try #require(messages.current.first { $0.hasPrefix("until contract, people is a view over members") }, "\(messages.current)")
        for named in ["COPY … FROM", "TRUNCATE", "ON CONFLICT ON CONSTRAINT", "ON CONFLICT (columns)", "docs/plans.md#renaming-a-table-rename_table_to"] {
            #expect(said.contains(named), "\(said)")
        }
        // What the view refuses, as documented.
        #expect(throws: PostgresError.self) { try fixture.exec("TRUNCATE people") }
        #expect(throws: PostgresError.self) {
            try fixture.exec("INSERT INTO people (email) VALUES ('c@example.com') ON CONFLICT ON CONSTRAINT members_email_key DO NOTHING")
        }
        // What works instead, before and after contract.
        for phase in ["expanded", "contracted"] {
            try fixture.exec("""
                CREATE TEMPORARY TABLE incoming (email text, score int);
                INSERT INTO incoming VALUES ('bulk1-\(phase)@example.com', 1), ('bulk2-\(phase)@example.com', 2);
                INSERT INTO people (email, score) SELECT email, score FROM incoming;
                DROP TABLE incoming;
                INSERT INTO people (email) VALUES ('bulk1-\(phase)@example.com') ON CONFLICT (email) DO UPDATE SET score = 9;
                DELETE FROM people WHERE email = 'bulk2-\(phase)@example.com';
                """)
            #expect(try fixture.int("SELECT score FROM people WHERE email = 'bulk1-\(phase)@example.com'") == 9, "\(phase)")
            #expect(try fixture.int("SELECT count(*) FROM people WHERE email LIKE 'bulk_-\(phase)@example.com'") == 1, "\(phase)")
            if phase == "expanded" {
                try fixture.run(.backfill, id)
                try fixture.run(.verify, id)
                try fixture.run(.contract, id)
            }
        }
    }

    /// The errors `check -d` reports for the project's plans.
    static func checkErrors(_ fixture: EngineFixture) throws -> [Finding] {
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo, planTables: fixture.project.loadPlans().plans.map(\.table.value))
        return ProjectCheck.check(project: fixture.project, live: live).filter { $0.severity == .error }
    }

    static let partitioned = """
        CREATE TABLE orders (id int NOT NULL, placed_on date NOT NULL, note text, PRIMARY KEY (id, placed_on)) PARTITION BY RANGE (placed_on);
        CREATE TABLE orders_2025 PARTITION OF orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE orders_2026 PARTITION OF orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        INSERT INTO orders SELECT g, DATE '2025-06-01' + (g % 2) * 365, 'n' || g FROM generate_series(1, 100) AS g;
        """

    /// hostile-h 22: a partitioned table was refused with the column plans' reason
    /// (`plan-partitioned-table`: indexes built concurrently, columns changed partition by
    /// partition) in check -d and at expand. A table rename has neither: check -d is clean,
    /// writes through the view route to the partitions, contract renames the parent (its
    /// primary key's name follows), the partitions keep their names and stay attached.
    @Test func aPartitionedTableIsRenamedAndItsPartitionsKeepTheirNames() throws {
        let fixture = try EngineFixture("table-rename-partitioned")
        defer { fixture.close() }
        try fixture.exec(Self.partitioned)
        let id = "001_rename_orders"
        try fixture.writePlan(id, "table: orders\nrename_table_to: purchases\n")
        let errors = try Self.checkErrors(fixture)
        #expect(errors.isEmpty, "\(errors)")
        try fixture.run(.expand, id)
        try fixture.exec("INSERT INTO purchases VALUES (1000, '2025-03-01', 'via the view'), (1001, '2026-03-01', 'via the view')")
        try fixture.exec("UPDATE purchases SET note = 'updated' WHERE id = 2")
        #expect(try fixture.rows("SELECT id::text, tableoid::regclass::text FROM orders WHERE id IN (1000, 1001) ORDER BY id")
                == [["1000", "orders_2025"], ["1001", "orders_2026"]])
        #expect(try fixture.int("SELECT count(*) FROM purchases") == 102)
        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.state(id)?.phase == .contracted)
        #expect(try fixture.rows("SELECT to_regclass('orders')::text, (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('purchases'))") == [[nil, "p"]])
        #expect(try fixture.rows("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'purchases'::regclass ORDER BY 1")
                == [["orders_2025"], ["orders_2026"]])
        #expect(try fixture.rows("SELECT conname::text FROM pg_constraint WHERE conrelid = 'purchases'::regclass AND contype = 'p'") == [["purchases_pkey"]])
        try fixture.exec("INSERT INTO purchases VALUES (2000, '2026-12-01', 'after')")
        #expect(try fixture.rows("SELECT tableoid::regclass::text FROM purchases WHERE id = 2000") == [["orders_2026"]])
        #expect(try fixture.int("SELECT count(*) FROM orders_2025") == 51)
        #expect(try fixture.rows("SELECT note FROM purchases WHERE id = 2") == [["updated"]])
    }

    /// hostile-h 22: an inheritance parent was refused (gate `inheritance`: the dual-write
    /// trigger and the backfill cover the parent alone). A table rename has neither: the view
    /// reads the children's rows through the parent as the table does; contract renames the
    /// parent, the child keeps its name and inherits from it. A child is renamed likewise.
    @Test func anInheritanceParentIsRenamedAndItsChildKeepsItsName() throws {
        let fixture = try EngineFixture("table-rename-inheritance")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE plain (id int PRIMARY KEY, note text);
            CREATE TABLE plain_child (extra text, PRIMARY KEY (id)) INHERITS (plain);
            INSERT INTO plain SELECT g, 'p' || g FROM generate_series(1, 20) AS g;
            INSERT INTO plain_child (id, note, extra) SELECT g, 'c' || g, 'x' FROM generate_series(21, 30) AS g;
            """)
        let id = "001_rename_plain"
        try fixture.writePlan(id, "table: plain\nrename_table_to: plain2\n")
        let errors = try Self.checkErrors(fixture)
        #expect(errors.isEmpty, "\(errors)")
        try fixture.run(.expand, id)
        #expect(try fixture.int("SELECT count(*) FROM plain2") == 30)
        try fixture.exec("INSERT INTO plain2 VALUES (100, 'via the view'); UPDATE plain2 SET note = 'updated' WHERE id = 25")
        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.state(id)?.phase == .contracted)
        #expect(try fixture.rows("SELECT to_regclass('plain')::text, (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('plain2'))") == [[nil, "r"]])
        #expect(try fixture.rows("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'plain2'::regclass") == [["plain_child"]])
        #expect(try fixture.int("SELECT count(*) FROM plain2") == 31)
        #expect(try fixture.rows("SELECT note FROM plain_child WHERE id = 25") == [["updated"]])

        try fixture.writePlan("002_rename_child", "table: plain_child\nrename_table_to: kid\n")
        let childErrors = try Self.checkErrors(fixture).filter { $0.file.hasSuffix("002_rename_child.yaml") }
        #expect(childErrors.isEmpty, "\(childErrors)")
        try fixture.forward("002_rename_child", through: .contract)
        #expect(try fixture.rows("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'plain2'::regclass") == [["kid"]])
        // A column plan on the parent keeps its refusal.
        try fixture.writePlan("003_add_flag", "table: plain2\nchanges:\n  - add: flag\n    type: boolean\n")
        let refusal = try #require(expectRefusal { try fixture.run(.expand, "003_add_flag") })
        #expect(refusal.gates.contains("inheritance"), "\(refusal.text)")
    }

    /// hostile-h 22: a published partitioned table also got the column plans' "expand's new
    /// columns would be replicated" in check -d. A table rename's refusal is its own (07's,
    /// the name subscribers find the table by), and only when a publication sends the table
    /// under the parent's name (`publish_via_partition_root`); one that sends each partition
    /// under its own name is not affected: the partitions keep their names.
    @Test func aPublishedPartitionedTableGetsOnlyTheTableRenamesRefusal() throws {
        let fixture = try EngineFixture("table-rename-partitioned-published")
        defer { fixture.close() }
        try fixture.exec(Self.partitioned + "\nCREATE PUBLICATION pub_orders FOR TABLE orders WITH (publish_via_partition_root = true);")
        let id = "001_rename_orders"
        try fixture.writePlan(id, "table: orders\nrename_table_to: purchases\n")
        let errors = try Self.checkErrors(fixture)
        #expect(errors.count == 1 && errors.allSatisfy { $0.rule == "plan-table-refused" }, "\(errors)")
        #expect(errors.first?.message.contains("is published by pub_orders") == true, "\(errors)")
        #expect(errors.first?.message.contains("rename the table with the subscribers") == true, "\(errors)")
        let refusal = try #require(expectRefusal { try fixture.run(.expand, id) })
        #expect(refusal.gates == ["publication"], "\(refusal.text)")
        #expect(refusal.text.contains("pub_orders") && !refusal.text.contains("new columns"), "\(refusal.text)")

        try fixture.exec("DROP PUBLICATION pub_orders; CREATE PUBLICATION pub_orders FOR TABLE orders")
        let partitionsByName = try Self.checkErrors(fixture)
        #expect(partitionsByName.isEmpty, "\(partitionsByName)")
        try fixture.run(.expand, id)
        try fixture.run(.rollback, id)
        try fixture.exec("DROP PUBLICATION pub_orders")
    }

    /// hostile-h 22 (follow-up): a table with neither a primary key nor a unique index over
    /// NOT NULL columns was refused (`plan-no-key`: backfill batches walk the key). A table
    /// rename walks no row: expand, backfill, verify and contract run, writes through the
    /// view reach the table, its index follows the name. A column plan keeps the refusal.
    @Test func aTableWithoutAKeyIsRenamed() throws {
        let fixture = try EngineFixture("table-rename-keyless")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE events (at timestamptz NOT NULL DEFAULT now(), kind text, payload text);
            CREATE INDEX events_at_idx ON events (at);
            INSERT INTO events (kind, payload) SELECT 'k' || (g % 5), 'p' || g FROM generate_series(1, 100) AS g;
            """)
        let id = "001_rename_events"
        try fixture.writePlan(id, "table: events\nrename_table_to: happenings\n")
        let errors = try Self.checkErrors(fixture)
        #expect(errors.isEmpty, "\(errors)")
        try fixture.run(.expand, id)
        try fixture.exec("""
            INSERT INTO happenings (kind, payload) VALUES ('new', 'via the view');
            UPDATE happenings SET payload = 'updated' WHERE payload = 'p7';
            DELETE FROM happenings WHERE payload = 'p8';
            """)
        #expect(try fixture.int("SELECT count(*) FROM events") == 100)
        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.state(id)?.phase == .contracted)
        #expect(try fixture.rows("SELECT to_regclass('events')::text, (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('happenings'))") == [[nil, "r"]])
        #expect(try fixture.rows("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'happenings'::regclass") == [["happenings_at_idx"]])
        #expect(try fixture.int("SELECT count(*) FROM happenings WHERE payload IN ('updated', 'via the view')") == 2)

        try fixture.writePlan("002_add_flag", "table: happenings\nchanges:\n  - add: flag\n    type: boolean\n")
        let columnPlan = try Self.checkErrors(fixture).filter { $0.file.hasSuffix("002_add_flag.yaml") }
        #expect(columnPlan.map(\.rule) == ["plan-no-key"], "\(columnPlan)")
    }

    /// hostile-h 22 (follow-up): a table with row-level security in force for the role Bellows
    /// runs as (here its owner, under FORCE) was refused (gate `row-security`: the backfill and
    /// verify would see only the rows the policies show). A table rename reads and writes no
    /// row, and its view is `security_invoker`: a reader through the new name sees and writes
    /// exactly the rows the table's policies give them (not the view owner's, who sees all),
    /// before and after contract. A column plan keeps the refusal.
    @Test func aTableWithRowSecurityIsRenamedAndTheViewKeepsItsPolicies() throws {
        let fixture = try EngineFixture("table-rename-rls")
        defer { fixture.close() }
        let owner = try DataSafetyTests.role(fixture, "tr_owner")
        defer { owner.drop() }
        let reader = try DataSafetyTests.role(fixture, "tr_reader")
        defer { reader.drop() }
        try fixture.exec("""
            GRANT CREATE ON SCHEMA public TO \(owner.name);
            SET ROLE \(owner.name);
            CREATE TABLE notes (id int PRIMARY KEY, tenant text NOT NULL, body text);
            INSERT INTO notes SELECT g, 't' || (g % 3), 'b' || g FROM generate_series(1, 90) AS g;
            ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE notes FORCE ROW LEVEL SECURITY;
            CREATE POLICY owner_sees_all ON notes TO \(owner.name) USING (true);
            CREATE POLICY own_tenant ON notes TO \(reader.name) USING (tenant = current_setting('app.tenant', true));
            GRANT SELECT, INSERT, UPDATE ON notes TO \(reader.name);
            RESET ROLE;
            """)
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }
        let id = "001_rename_notes"
        try fixture.writePlan(id, "table: notes\nrename_table_to: memos\n")
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo + " user=\(owner.name)", planTables: fixture.project.loadPlans().plans.map(\.table.value))
        let errors = ProjectCheck.check(project: fixture.project, live: live).filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors)")
        try fixture.run(.expand, id, asOwner)
        #expect(try fixture.rows("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'memos'::regclass") == [["security_invoker=true"]])

        let asReader = try Connection(fixture.db.conninfo + " user=\(reader.name)")
        defer { asReader.close() }
        try asReader.execute("SET app.tenant = 't1'")
        func seen(_ relation: String) throws -> [[String]] {
            try asReader.query("SELECT count(*)::text AS n, string_agg(DISTINCT tenant, ',') AS tenants FROM \(relation)").map { [try $0.string("n"), try $0.string("tenants")] }
        }
        #expect(try seen("notes") == [["30", "t1"]])
        #expect(try seen("memos") == [["30", "t1"]], "the view shows the reader its policy's rows, not the view owner's")
        // Writes through the new name: the reader's own tenant only, as through the table.
        try asReader.execute("INSERT INTO memos (id, tenant, body) VALUES (1000, 't1', 'via the view')")
        #expect(throws: PostgresError.self) { try asReader.execute("INSERT INTO memos (id, tenant, body) VALUES (1001, 't2', 'other tenant')") }
        #expect(try asReader.execute("UPDATE memos SET body = 'overwritten' WHERE id = 2").affectedRows == 0)
        try fixture.run(.backfill, id, asOwner)
        try fixture.run(.verify, id, asOwner)
        try fixture.run(.contract, id, asOwner)
        #expect(try fixture.state(id)?.phase == .contracted)
        #expect(try fixture.rows("SELECT to_regclass('notes')::text, (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('memos'))") == [[nil, "r"]])
        #expect(try seen("memos") == [["31", "t1"]])
        #expect(try fixture.rows("SELECT body FROM memos WHERE id = 2") == [["b2"]])
        #expect(try fixture.int("SELECT count(*) FROM memos") == 91)
        #expect(try fixture.rows("SELECT polname::text FROM pg_policy WHERE polrelid = 'memos'::regclass ORDER BY 1") == [["own_tenant"], ["owner_sees_all"]])

        try fixture.writePlan("002_add_flag", "table: memos\nchanges:\n  - add: flag\n    type: boolean\n")
        let refusal = try #require(expectRefusal { try fixture.run(.expand, "002_add_flag", asOwner) })
        #expect(refusal.gates == ["row-security"], "\(refusal.text)")
    }

    /// A rename and a column plan on one table are never in flight together: either waits.
    @Test func aRenameWaitsForOtherPlansOnTheTableAndTheyForIt() throws {
        let fixture = try EngineFixture("table-rename-conflict")
        defer { fixture.close() }
        try fixture.exec(Self.schema)
        try fixture.writePlan("001_add_nick", """
            table: members
            changes:
              - add: nick
                type: text
            """)
        try fixture.writePlan("002_rename_members", Self.plan)
        try fixture.run(.expand, "001_add_nick")
        let refusal = try #require(expectRefusal { try fixture.run(.expand, "002_rename_members") })
        #expect(refusal.gates == ["conflict"], "\(refusal.text)")
        try fixture.run(.rollback, "001_add_nick")
        try fixture.run(.expand, "002_rename_members")
        let other = try #require(expectRefusal { try fixture.run(.expand, "001_add_nick") })
        #expect(other.gates.contains("conflict"), "\(other.text)")
        #expect(other.text.contains("renames public.members"), "\(other.text)")
    }
}
