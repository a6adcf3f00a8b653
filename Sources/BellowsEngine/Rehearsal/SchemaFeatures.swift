import BellowsPlan
import Foundation
import PGClient

/// One schema feature a plan must carry through contract, or refuse before expand changes
/// anything (issue 14): a table that has it, rows, and a plan over a column it depends on.
public struct SchemaFeatureScenario: Sendable {
    /// The plan's id (`NNN_name`).
    public var id: String
    /// What is at stake, for progress lines and violations.
    public var feature: String
    /// Tables (and roles, views…) of the scenario.
    public var schema: String
    /// Its rows (small: the set must stay quick).
    public var seed: String
    public var plan: String
    /// Words the refusal of `expand` must contain; nil when the plan must go through.
    public var refusal: [String]?
    /// After contract, a query that must return `0` (what catalog facts cannot show).
    public var check: String?
}

/// `bellows rehearse --schema-features`: a project of scenarios, one per schema feature, run
/// like any plan (forward under traffic, rollback from each phase) with the table's catalog
/// facts compared before and after (`SchemaFacts`).
public enum SchemaFeatures {
    public static let scenarios: [SchemaFeatureScenario] = [
        SchemaFeatureScenario(
            id: "001_identity_rename", feature: "identity column (GENERATED ALWAYS AS IDENTITY) renamed",
            schema: "CREATE TABLE f_identity (id bigint PRIMARY KEY, ticket bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5), note text);",
            seed: "INSERT INTO f_identity (id, note) SELECT g, 'n' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_identity\nchanges:\n  - alter: ticket\n    rename_to: ticket_no\n",
            check: "SELECT count(*) FROM (SELECT ticket_no FROM f_identity GROUP BY 1 HAVING count(*) > 1) AS duplicates"),
        SchemaFeatureScenario(
            id: "002_serial_rename", feature: "serial column renamed (its sequence owned by the new column)",
            schema: "CREATE TABLE f_serial (id bigint PRIMARY KEY, ticket serial, note text);",
            seed: "INSERT INTO f_serial (id, note) SELECT g, 'n' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_serial\nchanges:\n  - alter: ticket\n    rename_to: ticket_no\n"),
        SchemaFeatureScenario(
            id: "003_partial_unique", feature: "partial unique index (UNIQUE … WHERE NOT deleted)",
            schema: """
                CREATE TABLE f_partial (id bigint PRIMARY KEY, email text NOT NULL, deleted boolean NOT NULL DEFAULT false);
                CREATE UNIQUE INDEX f_partial_live_email_key ON f_partial (email) WHERE NOT deleted;
                """,
            seed: "INSERT INTO f_partial (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 300) AS g;",
            plan: "table: f_partial\nchanges:\n  - alter: email\n    rename_to: address\n"),
        SchemaFeatureScenario(
            id: "004_expression_index", feature: "expression index (lower(email))",
            schema: """
                CREATE TABLE f_expression (id bigint PRIMARY KEY, email text NOT NULL);
                CREATE INDEX f_expression_lower_email_idx ON f_expression (lower(email));
                """,
            seed: "INSERT INTO f_expression SELECT g, 'User' || g || '@example.com' FROM generate_series(1, 300) AS g;",
            plan: "table: f_expression\nchanges:\n  - alter: email\n    rename_to: address\n"),
        SchemaFeatureScenario(
            id: "005_multicolumn_unique_fk", feature: "multi-column UNIQUE and composite foreign key over the column",
            schema: """
                CREATE TABLE f_codes (code text PRIMARY KEY);
                CREATE TABLE f_pairs (tenant int NOT NULL, code text NOT NULL REFERENCES f_codes (code), PRIMARY KEY (tenant, code));
                CREATE TABLE f_multi (
                    id bigint PRIMARY KEY, tenant int NOT NULL, note text NOT NULL, code text NOT NULL REFERENCES f_codes (code),
                    CONSTRAINT f_multi_note_code_key UNIQUE (note, code),
                    CONSTRAINT f_multi_tenant_code_fkey FOREIGN KEY (tenant, code) REFERENCES f_pairs (tenant, code)
                );
                """,
            // Every (tenant, code) traffic writes exists (tenants 1–5, codes of f_codes), and
            // its notes are new, so (note, code) stays unique whatever code it writes.
            seed: """
                INSERT INTO f_codes SELECT 'c' || lpad(g::text, 3, '0') FROM generate_series(1, 60) AS g;
                INSERT INTO f_pairs SELECT t, c.code FROM generate_series(0, 6) AS t CROSS JOIN f_codes AS c;
                INSERT INTO f_multi SELECT g, g % 5 + 1, 'note ' || g, 'c' || lpad((g % 60 + 1)::text, 3, '0') FROM generate_series(1, 300) AS g;
                """,
            plan: "table: f_multi\nchanges:\n  - alter: code\n    rename_to: item_code\n"),
        SchemaFeatureScenario(
            id: "006_column_grants", feature: "column-level GRANTs to an application role",
            schema: """
                DO $$ BEGIN CREATE ROLE bellows_feature_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
                CREATE TABLE f_grants (id bigint PRIMARY KEY, email text NOT NULL);
                GRANT SELECT (id, email), INSERT (id, email), UPDATE (email) ON f_grants TO bellows_feature_app;
                """,
            seed: "INSERT INTO f_grants SELECT g, 'e' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_grants\nchanges:\n  - alter: email\n    rename_to: email_address\n"),
        SchemaFeatureScenario(
            id: "007_collation", feature: "non-default collation (COLLATE \"C\") and an index under it",
            schema: """
                CREATE TABLE f_collation (id bigint PRIMARY KEY, name text COLLATE "C" NOT NULL);
                CREATE INDEX f_collation_name_idx ON f_collation (name text_pattern_ops);
                """,
            seed: "INSERT INTO f_collation SELECT g, 'Name ' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_collation\nchanges:\n  - alter: name\n    rename_to: label\n"),
        SchemaFeatureScenario(
            id: "008_comment_statistics", feature: "column comment and statistics target",
            schema: """
                CREATE TABLE f_comment (id bigint PRIMARY KEY, title text);
                COMMENT ON COLUMN f_comment.title IS 'shown in lists';
                ALTER TABLE f_comment ALTER COLUMN title SET STATISTICS 500;
                """,
            seed: "INSERT INTO f_comment SELECT g, 'Title ' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_comment\nchanges:\n  - alter: title\n    rename_to: heading\n"),
        SchemaFeatureScenario(
            id: "009_replica_identity", feature: "REPLICA IDENTITY USING INDEX on the column's unique index",
            schema: """
                CREATE TABLE f_replica (id bigint PRIMARY KEY, code text NOT NULL CONSTRAINT f_replica_code_key UNIQUE);
                ALTER TABLE f_replica REPLICA IDENTITY USING INDEX f_replica_code_key;
                """,
            seed: "INSERT INTO f_replica SELECT g, 'code-' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_replica\nchanges:\n  - alter: code\n    rename_to: ref_code\n"),
        SchemaFeatureScenario(
            id: "010_rls_other_column", feature: "FORCE ROW LEVEL SECURITY with a policy on another column",
            schema: """
                CREATE TABLE f_rls (id bigint PRIMARY KEY, tenant int NOT NULL, body text);
                ALTER TABLE f_rls ENABLE ROW LEVEL SECURITY;
                ALTER TABLE f_rls FORCE ROW LEVEL SECURITY;
                CREATE POLICY f_rls_tenant ON f_rls USING (tenant = 1);
                """,
            seed: "INSERT INTO f_rls SELECT g, g % 3, 'body ' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_rls\nchanges:\n  - alter: body\n    rename_to: content\n"),
        SchemaFeatureScenario(
            id: "011_user_trigger", feature: "a user trigger that must not fire in the backfill",
            schema: """
                CREATE TABLE f_trigger (id bigint PRIMARY KEY, name text);
                CREATE TABLE f_trigger_audit (at timestamptz NOT NULL DEFAULT now(), backfill text);
                CREATE FUNCTION f_trigger_audit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  INSERT INTO f_trigger_audit (backfill) VALUES (current_setting('bellows.backfill', true));
                  RETURN NEW;
                END $$;
                CREATE TRIGGER f_trigger_audit AFTER UPDATE ON f_trigger FOR EACH ROW EXECUTE FUNCTION f_trigger_audit();
                """,
            seed: "INSERT INTO f_trigger SELECT g, 'Name ' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_trigger\nchanges:\n  - alter: name\n    rename_to: full_name\n",
            check: "SELECT count(*) FROM f_trigger_audit WHERE coalesce(backfill, '') <> ''"),
        SchemaFeatureScenario(
            id: "012_json_column", feature: "a json column (no = operator) renamed under traffic",
            schema: "CREATE TABLE f_json (id bigint PRIMARY KEY, payload json, note text);",
            seed: "INSERT INTO f_json SELECT g, json_build_object('n', g), 'n' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_json\nchanges:\n  - alter: payload\n    rename_to: data\n"),
        SchemaFeatureScenario(
            id: "013_dependent_view", feature: "a view over the column (refused before expand)",
            schema: """
                CREATE TABLE f_view (id bigint PRIMARY KEY, email text NOT NULL);
                CREATE VIEW f_view_emails AS SELECT id, email FROM f_view;
                """,
            seed: "INSERT INTO f_view SELECT g, 'e' || g FROM generate_series(1, 100) AS g;",
            plan: "table: f_view\nchanges:\n  - alter: email\n    rename_to: address\n",
            refusal: ["f_view_emails"]),
        SchemaFeatureScenario(
            id: "014_partitioned_table", feature: "a partitioned table (refused before expand)",
            schema: """
                CREATE TABLE f_parted (id bigint PRIMARY KEY, email text NOT NULL) PARTITION BY RANGE (id);
                CREATE TABLE f_parted_1 PARTITION OF f_parted FOR VALUES FROM (0) TO (1000000000);
                """,
            seed: "INSERT INTO f_parted SELECT g, 'e' || g FROM generate_series(1, 100) AS g;",
            plan: "table: f_parted\nchanges:\n  - alter: email\n    rename_to: address\n",
            refusal: ["partitioned"]),
        SchemaFeatureScenario(
            id: "015_deferrable_unique", feature: "UNIQUE … DEFERRABLE INITIALLY DEFERRED on the column (stays deferrable)",
            schema: """
                CREATE TABLE f_deferrable (id bigint PRIMARY KEY, seat int NOT NULL, note text,
                    CONSTRAINT f_deferrable_seat_key UNIQUE (seat) DEFERRABLE INITIALLY DEFERRED);
                """,
            seed: "INSERT INTO f_deferrable SELECT g, g, 'n' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_deferrable\nchanges:\n  - alter: seat\n    rename_to: place\n"),
        SchemaFeatureScenario(
            id: "016_not_valid_check", feature: "a NOT VALID CHECK on the column (stays NOT VALID, never validated)",
            schema: """
                CREATE TABLE f_not_valid (id bigint PRIMARY KEY, age int, note text);
                ALTER TABLE f_not_valid ADD CONSTRAINT f_not_valid_age_check CHECK (age >= 0) NOT VALID;
                """,
            seed: "INSERT INTO f_not_valid SELECT g, g % 90, 'n' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_not_valid\nchanges:\n  - alter: age\n    rename_to: age_years\n"),
        SchemaFeatureScenario(
            id: "017_not_valid_check_violated", feature: "a NOT VALID CHECK that legacy rows violate (refused before expand)",
            schema: """
                CREATE TABLE f_violated (id bigint PRIMARY KEY, age int);
                INSERT INTO f_violated SELECT g, g - 5 FROM generate_series(1, 20) AS g;
                ALTER TABLE f_violated ADD CONSTRAINT f_violated_age_check CHECK (age >= 0) NOT VALID;
                """,
            seed: "",
            plan: "table: f_violated\nchanges:\n  - alter: age\n    rename_to: age_years\n",
            refusal: ["f_violated_age_check"]),
        SchemaFeatureScenario(
            id: "018_cluster_index", feature: "the index CLUSTER uses (ALTER TABLE … CLUSTER ON) over the column",
            schema: """
                CREATE TABLE f_cluster (id bigint PRIMARY KEY, note text NOT NULL);
                CREATE INDEX f_cluster_note_idx ON f_cluster (note);
                ALTER TABLE f_cluster CLUSTER ON f_cluster_note_idx;
                """,
            seed: "INSERT INTO f_cluster SELECT g, 'n' || g FROM generate_series(1, 300) AS g;",
            plan: "table: f_cluster\nchanges:\n  - alter: note\n    rename_to: remark\n"),
        // An index in a tablespace of its own is carried too (ExactCarryTests), but not
        // rehearsed: CREATE TABLESPACE needs a directory the server's OS user owns.
    ]

    /// Writes the scenarios as a project under `root`: `migrations/001_schema_features.sql`,
    /// `plans/<id>.yaml` and `seed.sql`.
    public static func writeProject(root: String) throws {
        let files = FileManager.default
        try files.createDirectory(atPath: root + "/migrations", withIntermediateDirectories: true)
        try files.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        let migration = "-- Migration: 001_schema_features\n-- Description: one table per schema feature scenario\n-- Dependencies: none\n"
            + scenarios.map { "\n-- \($0.id): \($0.feature)\n\($0.schema)\n" }.joined()
        try migration.write(toFile: root + "/migrations/001_schema_features.sql", atomically: true, encoding: .utf8)
        try scenarios.map(\.seed).joined(separator: "\n").write(toFile: root + "/seed.sql", atomically: true, encoding: .utf8)
        for scenario in scenarios {
            try scenario.plan.write(toFile: root + "/plans/\(scenario.id).yaml", atomically: true, encoding: .utf8)
        }
    }
}

/// What a table is, as lines that survive a rename when the property is carried: columns (type,
/// NOT NULL, default, collation, identity, owned sequence, comment, statistics target,
/// privileges), indexes (tablespace, CLUSTER mark) and constraints (deferrability, NOT VALID)
/// under their names, replica identity, row security and
/// its policies, user triggers. Column names in names and definitions are renamed by the plan's
/// renames before comparing (`renamed`).
public struct SchemaFacts: Equatable, Sendable {
    public var lines: [String]

    public init(lines: [String]) { self.lines = lines }

    public static func take(_ connection: Connection, table: TableName) throws -> SchemaFacts {
        let rows = try connection.query("""
            WITH t AS (SELECT to_regclass($1) AS oid)
            SELECT 'column ' || quote_ident(a.attname) || ': ' || format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                   || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                   || CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation THEN ' COLLATE ' || co.collname ELSE '' END
                   || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
                   || coalesce(' SEQUENCE ' || pg_get_serial_sequence(t.oid::regclass::text, a.attname), '')
                   || coalesce(' COMMENT ' || col_description(a.attrelid, a.attnum), '')
                   || CASE WHEN coalesce(a.attstattarget::int, -1) >= 0 THEN ' STATISTICS ' || a.attstattarget::text ELSE '' END
                   || coalesce(' GRANTS ' || (SELECT string_agg(coalesce(r.rolname, 'PUBLIC') || '=' || x.privilege_type, ',' ORDER BY r.rolname, x.privilege_type)
                                               FROM aclexplode(a.attacl) AS x LEFT JOIN pg_roles r ON r.oid = x.grantee), '') AS line
            FROM t JOIN pg_attribute a ON a.attrelid = t.oid JOIN pg_type ty ON ty.oid = a.atttypid
            LEFT JOIN pg_collation co ON co.oid = a.attcollation
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT 'constraint ' || quote_ident(k.conname) || ': ' || pg_get_constraintdef(k.oid)
            FROM t JOIN pg_constraint k ON k.conrelid = t.oid WHERE k.contype <> 'n'
            UNION ALL
            SELECT 'index ' || quote_ident(ic.relname) || ': ' || regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON', 'CREATE \\1INDEX ON')
                   || coalesce(' TABLESPACE ' || (SELECT quote_ident(ts.spcname) FROM pg_tablespace ts WHERE ts.oid = ic.reltablespace), '')
                   || CASE WHEN i.indisclustered THEN ' (clustered)' ELSE '' END
                   || CASE WHEN i.indisreplident THEN ' (replica identity)' ELSE '' END
            FROM t JOIN pg_index i ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid
            UNION ALL
            SELECT 'table: replica identity ' || c.relreplident::text || CASE WHEN c.relrowsecurity THEN ', row security' ELSE '' END
                   || CASE WHEN c.relforcerowsecurity THEN ', forced' ELSE '' END
            FROM t JOIN pg_class c ON c.oid = t.oid
            UNION ALL
            SELECT 'policy ' || quote_ident(p.polname) || ': ' || p.polcmd::text || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                   || ' / ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
            FROM t JOIN pg_policy p ON p.polrelid = t.oid
            UNION ALL
            SELECT 'trigger ' || quote_ident(g.tgname) || ': ' || pg_get_triggerdef(g.oid) || ' ' || g.tgenabled::text
            FROM t JOIN pg_trigger g ON g.tgrelid = t.oid WHERE NOT g.tgisinternal
            ORDER BY 1
            """, [table.quoted])
        return SchemaFacts(lines: try rows.map { try $0.string("line") })
    }

    /// The facts as they must read once `renames` (old column → new) are contracted: column
    /// names, the column's token in index and constraint names, and the columns in definitions
    /// (a foreign key's referenced columns are another table's and stay).
    public func renamed(_ renames: [String: String]) -> SchemaFacts {
        SchemaFacts(lines: lines.map { line in
            guard let colon = line.range(of: ": ") else { return line }
            let head = line[..<colon.lowerBound], body = String(line[colon.upperBound...])
            let words = head.split(separator: " ", maxSplits: 1).map(String.init)
            guard words.count == 2 else { return line }
            let name = words[0] == "column" ? renames[words[1]] ?? words[1] : TransitionNames.renamingColumns(in: words[1], renames)
            let parts = body.components(separatedBy: " REFERENCES ")
            let definition = ([ExpressionRewriter.renameColumns(in: parts[0], renames)] + parts.dropFirst()).joined(separator: " REFERENCES ")
            return Self.unquoted("\(words[0]) \(name): \(definition)")
        }.sorted())
    }

    /// `"name"` as `name` where the quotes are not needed (the rewriter quotes every name it
    /// puts in; PostgreSQL prints them bare).
    static func unquoted(_ line: String) -> String {
        line.replacingOccurrences(of: #""([a-z_][a-z0-9_]*)""#, with: "$1", options: .regularExpression)
    }

    /// The facts as read, sorted, with needless quotes dropped (to compare with `renamed`).
    public var normalized: SchemaFacts { SchemaFacts(lines: lines.map(Self.unquoted).sorted()) }

    /// Lines only in `self` (`-`, lost) or only in `other` (`+`, unexpected).
    public func difference(to other: SchemaFacts) -> [String] {
        let mine = Set(lines), theirs = Set(other.lines)
        return lines.filter { !theirs.contains($0) }.map { "- " + $0 } + other.lines.filter { !mine.contains($0) }.map { "+ " + $0 }
    }
}
