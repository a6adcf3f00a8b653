import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// Issue 23: `move_columns` — the plan shape, its validation and every phase's SQL, without a
/// database (MoveColumnsTests runs them on PostgreSQL).
@Suite struct MoveColumnsPlanTests {
    static let schema = MigrationSchema.catalog(fromMigrations: ["""
        CREATE TABLE profiles (id bigint PRIMARY KEY, user_id bigint NOT NULL UNIQUE, headline text,
                               bio varchar(500) CHECK (char_length(bio) > 0),
                               avatar_url text NOT NULL DEFAULT 'none',
                               website text, CONSTRAINT site_or_bio CHECK (website IS NOT NULL OR headline IS NOT NULL));
        CREATE INDEX profiles_website_idx ON profiles (website);
        CREATE TABLE taken (id bigint PRIMARY KEY);
        """])

    static func load(_ move: String, table: String = "profiles") -> PlanLoadResult {
        PlanLoader.load(file: "plans/010_move.yaml", source: "table: \(table)\nmove_columns:\n" + move)
    }

    static func findings(_ move: String, extra: String = "") -> [String] {
        let loaded = PlanLoader.load(file: "plans/010_move.yaml", source: "table: profiles\nmove_columns:\n" + move + extra)
        var findings = loaded.findings
        if let plan = loaded.plan { findings += PlanValidator.validate(plan, catalog: schema) }
        return findings.filter { $0.severity == .error }.map { "\($0.line):\($0.column) \($0.rule)" }
    }

    static func compiled(_ columns: String = "[bio, avatar_url]") throws -> ColumnMove {
        let plan = try #require(load("  to: profile_metadata\n  columns: \(columns)\n").plan)
        let result = MoveCompiler.compile(plan, table: schema.table(plan.table.value), catalog: schema)
        return try #require(result.move, "\(result.findings)")
    }

    @Test func aMovePlanLoadsWithoutChanges() throws {
        let plan = try #require(Self.load("  to: profile_metadata\n  columns: [bio, avatar_url]\n").plan)
        #expect(plan.changes.isEmpty)
        #expect(plan.moveColumns?.to.value == TableName(schema: nil, name: "profile_metadata"))
        #expect(plan.moveColumns?.columns.map(\.value) == ["bio", "avatar_url"])
        #expect(Self.findings("  to: profile_metadata\n  columns: [bio, avatar_url]\n").isEmpty)
    }

    @Test func theShapeIsChecked() {
        #expect(Self.findings("  to: profile_metadata\n") == ["3:3 plan-missing-key"])
        #expect(Self.findings("  to: profile_metadata\n  columns: []\n") == ["4:12 plan-invalid-value"])
        #expect(Self.findings("  to: profile_metadata\n  columns: [bio]\n  colums: [x]\n") == ["5:3 plan-unknown-key"])
        #expect(Self.findings("  to: profile_metadata\n  columns: [bio]\n", extra: "changes:\n  - drop: website\n") == ["5:1 plan-invalid-value"])
    }

    @Test func whatAMoveCannotCarryIsRefusedAtTheColumn() {
        #expect(Self.findings("  to: profile_metadata\n  columns: [bio, bio]\n") == ["4:18 plan-column-conflict"])
        #expect(Self.findings("  to: profile_metadata\n  columns: [bioo]\n") == ["4:13 plan-unknown-column"])
        #expect(Self.findings("  to: profile_metadata\n  columns: [id]\n") == ["4:13 plan-changes-key"])
        // website: in an index, and in a CHECK with a column that stays.
        #expect(Self.findings("  to: profile_metadata\n  columns: [website]\n") == ["4:13 plan-cannot-carry", "4:13 plan-cannot-carry"])
        #expect(Self.findings("  to: taken\n  columns: [bio]\n") == ["3:7 plan-name-collision"])
        #expect(Self.findings("  to: profiles\n  columns: [bio]\n") == ["3:7 plan-invalid-value"])
        #expect(Self.findings("  to: _bellows_x\n  columns: [bio]\n") == ["3:7 plan-reserved-name"])
    }

    @Test func expandCreatesTheNewTableKeyedByTheSourcesKey() throws {
        let sql = MoveSQL(try Self.compiled())
        #expect(sql.createTable == """
            CREATE TABLE "public"."profile_metadata" (
              "id" bigint NOT NULL,
              "bio" character varying(500),
              "avatar_url" text DEFAULT 'none'::text NOT NULL,
              PRIMARY KEY ("id"),
              FOREIGN KEY ("id") REFERENCES "public"."profiles" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
              CONSTRAINT "profiles_bio_check" CHECK (char_length(bio) > 0)
            )
            """)
        let expand = sql.expandTransaction.map(\.sql)
        #expect(expand.contains { $0.hasPrefix("CREATE TRIGGER \"~bellows_move_010_move\" AFTER INSERT OR UPDATE OR DELETE ON \"public\".\"profiles\"") })
        #expect(expand.contains { $0.hasPrefix("CREATE TRIGGER \"~bellows_move_010_move\" AFTER INSERT OR UPDATE OR DELETE ON \"public\".\"profile_metadata\"") })
        #expect(expand.filter { $0.contains("ENABLE ALWAYS TRIGGER") }.count == 2)
        // Each function stands its own write's trigger aside, then restores the session's setting.
        for function in [sql.sourceFunctionSQL, sql.targetFunctionSQL] {
            #expect(function.contains("SET search_path = pg_catalog, \"public\", pg_temp"))
            #expect(function.contains("PERFORM set_config('bellows.backfill', '010_move', true);"))
            #expect(function.contains("PERFORM set_config('bellows.backfill', coalesce(bellows_previous, ''), true);"))
        }
        // The source's function mirrors a write the source allowed; the new table's writes as the writer (hostile-h 02).
        #expect(sql.sourceFunctionSQL.contains("LANGUAGE plpgsql SECURITY DEFINER SET search_path"))
        #expect(sql.targetFunctionSQL.contains("LANGUAGE plpgsql SECURITY INVOKER SET search_path"))
        #expect(sql.targetFunctionSQL.contains("GET DIAGNOSTICS bellows_written = ROW_COUNT;"))
        #expect(sql.targetFunctionSQL.contains("IF EXISTS (SELECT FROM \"public\".\"profiles\" WHERE \"id\" = OLD.\"id\") THEN\n      RAISE EXCEPTION USING ERRCODE = '55000'"))
        #expect(sql.rowSecurityStatements.isEmpty)
        #expect(sql.sourceFunctionSQL.contains("ON CONFLICT (\"id\") DO UPDATE SET \"bio\" = EXCLUDED.\"bio\", \"avatar_url\" = EXCLUDED.\"avatar_url\""))
        #expect(sql.sourceFunctionSQL.contains("DELETE FROM \"public\".\"profile_metadata\" WHERE \"id\" = OLD.\"id\""))
        // The source's UPDATE sets the columns the write changed (all for an insert): the writer needs privileges on those alone (hostile-h 21).
        #expect(sql.targetFunctionSQL.contains("EXECUTE 'UPDATE \"public\".\"profiles\" SET ' || array_to_string(bellows_set, ', ')"))
        #expect(sql.targetFunctionSQL.contains("IF TG_OP = 'INSERT' OR OLD.\"bio\" IS DISTINCT FROM NEW.\"bio\" THEN\n    bellows_set := array_append(bellows_set, '\"bio\" = ($1).\"bio\"');"))
    }

    @Test func typesWithoutEqualityAreComparedAsText() throws {
        var move = try Self.compiled("[bio]")
        move.typesWithoutEquality = ["character varying(500)"]
        let sql = MoveSQL(move)
        #expect(sql.verifyCounterparts.contains("ROW(s.\"bio\"::text) IS DISTINCT FROM ROW(t.\"bio\"::text)"))
        #expect(sql.targetFunctionSQL.contains("OLD.\"bio\"::text IS DISTINCT FROM NEW.\"bio\"::text"))
        #expect(sql.targetFunctionSQL.contains("bellows_right := array_append(bellows_right, '($1).\"bio\"::text');"))
    }

    @Test func backfillVerifyContractAndRollback() throws {
        let sql = MoveSQL(try Self.compiled())
        #expect(sql.backfillBatch(first: true).contains("WHERE ROW(\"id\") <= ROW($1::bigint)\n  ORDER BY \"id\" LIMIT $2 FOR KEY SHARE"))
        #expect(sql.backfillBatch(first: false).contains("WHERE ROW(\"id\") > ROW($1::bigint) AND ROW(\"id\") <= ROW($2::bigint)\n  ORDER BY \"id\" LIMIT $3 FOR KEY SHARE"))
        #expect(sql.backfillBatch(first: false).contains("ON CONFLICT (\"id\") DO NOTHING"))
        #expect(sql.verifyCounterparts.contains("ROW(s.\"bio\", s.\"avatar_url\") IS DISTINCT FROM ROW(t.\"bio\", t.\"avatar_url\")"))
        #expect(sql.verifyOrphans.contains("NOT EXISTS (SELECT FROM \"public\".\"profiles\" AS s WHERE s.\"id\" = t.\"id\")"))
        #expect(sql.contractTransaction.map(\.sql).last == "ALTER TABLE \"public\".\"profiles\"\n  DROP COLUMN \"bio\",\n  DROP COLUMN \"avatar_url\"")
        #expect(sql.contractTransaction.first?.sql == "LOCK TABLE \"public\".\"profile_metadata\" IN SHARE ROW EXCLUSIVE MODE")
        #expect(sql.rollbackTransaction.map(\.mode) == [.standalone, .transaction, .transaction, .transaction])
        #expect(sql.rollbackTransaction.map(\.sql) == [
            "DROP TRIGGER IF EXISTS \"~bellows_move_010_move\" ON \"public\".\"profile_metadata\"",
            "DROP TRIGGER IF EXISTS \"~bellows_move_010_move\" ON \"public\".\"profiles\"",
            "DROP TABLE IF EXISTS \"public\".\"profile_metadata\"",
            "DROP FUNCTION IF EXISTS \"bellows\".\"move_010_move_from_source\"(), \"bellows\".\"move_010_move_from_target\"()",
        ])
        let text = sql.rendered(phases: PhaseCommand.allCases)
        for phase in PhaseCommand.allCases { #expect(text.contains("-- ===== \(phase.rawValue) =====")) }
    }

    /// The plans after a move are checked against the source without the moved columns and the new table.
    @Test func laterPlansSeeTheMovedColumnsInTheNewTable() throws {
        let move = try #require(Self.load("  to: profile_metadata\n  columns: [bio]\n").plan)
        let later = try #require(PlanLoader.load(file: "plans/011_later.yaml", source: "table: profile_metadata\nchanges:\n  - alter: bio\n    rename_to: about\n").plan)
        let bases = PlanChain.bases([move, later], base: Self.schema)
        let catalog = try #require(bases["011_later"]?.catalog)
        #expect(catalog.table(TableName(schema: nil, name: "profiles"))?.column("bio") == nil)
        #expect(catalog.table(TableName(schema: nil, name: "profile_metadata"))?.columns.map(\.name) == ["id", "bio"])
        #expect(PlanValidator.validate(later, catalog: catalog).filter { $0.severity == .error }.isEmpty)
    }

    /// hostile-h 02 and 04: the source's row security on the new table, and what render says.
    @Test func rowSecurityIsCarriedAndRenderSaysWhatChanges() throws {
        var move = try Self.compiled()
        move.rowSecurity = ColumnMove.RowSecurity(forced: true, policies: ["tenant_iso"])
        let sql = MoveSQL(move)
        let visible = "EXISTS (SELECT FROM \"public\".\"profiles\" AS bellows_source WHERE bellows_source.\"id\" = \"profile_metadata\".\"id\")"
        #expect(sql.rowSecurityStatements.map(\.sql) == [
            "ALTER TABLE \"public\".\"profile_metadata\" ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE \"public\".\"profile_metadata\" FORCE ROW LEVEL SECURITY",
            "CREATE POLICY \"source_row_visible\" ON \"public\".\"profile_metadata\"\n  USING (\(visible))\n  WITH CHECK (\(visible))",
        ])
        #expect(sql.expandTransaction.map(\.sql).contains { $0.hasPrefix("CREATE POLICY") })
        let text = MoveSQL(try Self.compiled()).rendered(phases: [.expand])
        #expect(text.contains("-- if public.profiles has row-level security, expand enables it on public.profile_metadata too"), "\(text)")
        #expect(text.contains("-- from expand on, TRUNCATE public.profiles fails (0A000"), "\(text)")
    }

    /// hostile-h 21: column privileges on the key and the moved columns, one GRANT per role and privilege.
    @Test func columnPrivilegesAreGrantedOnTheSameColumns() throws {
        var move = try Self.compiled()
        move.columnGrants = [
            .init(grantee: "reporting", privilege: "SELECT", column: "id"),
            .init(grantee: "reporting", privilege: "SELECT", column: "bio"),
            .init(grantee: "reporting", privilege: "UPDATE", column: "bio"),
            .init(grantee: "PUBLIC", privilege: "SELECT", column: "avatar_url"),
            .init(grantee: "reporting", privilege: "SELECT", column: "headline"),
        ]
        #expect(MoveSQL(move).columnGrantStatements.map(\.sql) == [
            "GRANT SELECT (\"id\", \"bio\") ON \"public\".\"profile_metadata\" TO \"reporting\"",
            "GRANT UPDATE (\"bio\") ON \"public\".\"profile_metadata\" TO \"reporting\"",
            "GRANT SELECT (\"avatar_url\") ON \"public\".\"profile_metadata\" TO PUBLIC",
        ])
    }
}
