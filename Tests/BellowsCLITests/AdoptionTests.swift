import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 18, end to end with the built binary: a database made with plain SQL and rows, an
/// empty project directory; baseline, a plan, check and render against the database, a
/// rehearsal from it with sampled rows (which leaves it exactly as it was), then the plan's
/// phases on the database itself.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct AdoptionTests {
    /// The shape of every relation, constraint, index, trigger, function, type and schema
    /// outside the system, and each table's rows (count and content): equal means untouched.
    static func fingerprint(_ connection: Connection) throws -> [String] {
        var lines = try connection.query("""
            SELECT 'schema ' || nspname AS line FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
            UNION ALL
            SELECT 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || c.relnatts FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
            UNION ALL
            SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
            UNION ALL
            SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname ~ '^pg_' OR nspname = 'information_schema')
            UNION ALL
            SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid::regclass::text !~ '^(pg_|information_schema)'
            UNION ALL
            SELECT 'trigger ' || pg_get_triggerdef(oid) || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
            UNION ALL
            SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
            UNION ALL
            SELECT 'type ' || t.oid::regtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
            ORDER BY 1
            """).map { try $0.string("line") }
        for table in ["customers", "orders", "employees", "billing.invoices"] {
            let rows = try connection.query("SELECT count(*) AS n, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS h FROM \(table) t").first
            lines.append("rows \(table) \(try rows?.int("n") ?? -1) \(try rows?.string("h") ?? "")")
        }
        return lines
    }

    @Test func adoptAnExistingDatabase() throws {
        let db = try TestDatabase.create("adopt")
        defer { db.drop() }
        let sql = try db.connect()
        defer { sql.close() }
        try sql.executeScript(ExistingDatabase.schemaSQL + ExistingDatabase.dataSQL)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-adopt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        @discardableResult
        func bellows(_ arguments: [String], expect status: Int32 = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> CheckCommandTests.Run {
            let run = try CheckCommandTests.bellows(arguments + ["--project", root])
            #expect(run.status == status, "bellows \(arguments.joined(separator: " ")):\n\(run.stdout)\n\(run.stderr)", sourceLocation: sourceLocation)
            return run
        }

        // Baseline: the file, recorded; a second run changes nothing.
        try bellows(["baseline", "-d", db.conninfo])
        #expect(FileManager.default.fileExists(atPath: root + "/migrations/000_baseline.sql"))
        #expect(try bellows(["baseline", "-d", db.conninfo]).stdout.contains("nothing to do"))

        // A plan for one of its tables, checked and rendered offline and against the database.
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        try """
            table: customers
            changes:
              - alter: name
                rename_to: full_name
                type: varchar(300)
                up: left(name, 300)
                down: full_name
            """.write(toFile: root + "/plans/001_rename_customers_name.yaml", atomically: true, encoding: .utf8)
        #expect(try bellows(["check"]).stderr.contains("schema: migrations/ (offline)"))
        let check = try bellows(["check", "-d", db.conninfo])
        #expect(check.stderr.contains("schema: the database \"\(db.name)\""), "\(check.stderr)")
        let render = try bellows(["render", "001", "-d", db.conninfo])
        #expect(render.stdout.hasPrefix("-- schema: the database \"\(db.name)\""))
        #expect(render.stdout.contains("ADD COLUMN IF NOT EXISTS \"full_name\" varchar(300)"), "\(render.stdout)")

        // A rehearsal from the database, with sampled rows, leaves it exactly as it was.
        let before = try Self.fingerprint(sql)
        let rehearsal = try bellows(["rehearse", "--from", db.conninfo, "--sample", "40"])
        #expect(rehearsal.stdout.contains("rehearsal passed"))
        #expect(rehearsal.stdout.contains("copy schema"))
        #expect(try Self.fingerprint(sql) == before)

        // Then the plan on the database itself.
        for phase in ["expand", "backfill", "verify", "contract"] { try bellows([phase, "001", "-d", db.conninfo]) }
        #expect(try sql.query("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'full_name'")
            .first?.string("t") == "character varying(300)")
        #expect(try sql.query("SELECT count(*) AS n FROM customers WHERE full_name = 'Customer ' || id").first?.int("n") == 300)
        #expect(try bellows(["migrate", "-d", db.conninfo]).status == 0)
        #expect(try bellows(["check", "-d", db.conninfo]).stdout.contains("001_rename_customers_name is contracted"))
    }

    /// Hostile finding 10: a baseline of a database whose plans Bellows already contracted holds
    /// the schema after them; `check` must not replay them against it (plan-unknown-column
    /// forever), and a rehearsal must not run them again, while later plans that depend on them
    /// are still checked and rehearsed.
    @Test func baselineAfterContractedPlansKeepsCheckGreen() throws {
        let db = try TestDatabase.create("adoptc")
        defer { db.drop() }
        let sql = try db.connect()
        defer { sql.close() }
        try sql.executeScript("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO users SELECT g, 'e' || g FROM generate_series(1, 10) g;
            """)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-adoptc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        @discardableResult
        func bellows(_ arguments: [String], expect status: Int32 = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> CheckCommandTests.Run {
            let run = try CheckCommandTests.bellows(arguments + ["--project", root])
            #expect(run.status == status, "bellows \(arguments.joined(separator: " ")):\n\(run.stdout)\n\(run.stderr)", sourceLocation: sourceLocation)
            return run
        }
        try """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
            """.write(toFile: root + "/plans/001_rename_email.yaml", atomically: true, encoding: .utf8)
        for phase in ["expand", "backfill", "verify", "contract"] { try bellows([phase, "001", "-d", db.conninfo]) }
        try bellows(["baseline", "-d", db.conninfo])
        let baseline = try String(contentsOfFile: root + "/migrations/000_baseline.sql", encoding: .utf8)
        #expect(baseline.contains("-- Contracted Plans: 001_rename_email\n"), "\(baseline)")
        #expect(try bellows(["baseline", "-d", db.conninfo]).stdout.contains("nothing to do"))

        // A later plan on the renamed column, depending on the contracted one.
        try """
            table: users
            depends_on:
              plans: [001_rename_email]
            changes:
              - add: email_domain
                type: text
                backfill: "split_part(email_address, '@', 2)"
            """.write(toFile: root + "/plans/002_add_email_domain.yaml", atomically: true, encoding: .utf8)
        let check = try bellows(["check"])
        #expect(check.stdout.contains("contracted before the baseline"), "\(check.stdout)\n\(check.stderr)")
        #expect(!(check.stdout + check.stderr).contains("plan-unknown-column"))
        try bellows(["check", root + "/plans/001_rename_email.yaml"])

        // The rehearsal applies the baseline and runs 002 only.
        let rehearsal = try bellows(["rehearse"])
        #expect(rehearsal.stdout.contains("rehearsal passed"), "\(rehearsal.stdout)\n\(rehearsal.stderr)")
        #expect((rehearsal.stdout + rehearsal.stderr).contains("contracted before the baseline, not rehearsed: 001_rename_email"))
        #expect(!rehearsal.stdout.contains("plan 001_rename_email on"))

        // And on the database itself.
        for phase in ["expand", "backfill", "verify", "contract"] { try bellows([phase, "002", "-d", db.conninfo]) }
        #expect(try sql.query("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email_domain'")
            .first?.string("t") == "text")
    }
}
