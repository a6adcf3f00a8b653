import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// Which columns contract archives, per change kind, and the archive's names and settings (issue 24).
@Suite struct ArchivePlanTests {
    let table = TableInfo(schema: "public", name: "people", columns: [
        ColumnInfo(name: "id", type: "bigint", notNull: true),
        ColumnInfo(name: "email", type: "text", notNull: false),
        ColumnInfo(name: "score", type: "integer", notNull: false),
        ColumnInfo(name: "given_name", type: "text", notNull: false),
        ColumnInfo(name: "family_name", type: "text", notNull: false),
        ColumnInfo(name: "legacy", type: "boolean", notNull: false),
    ], primaryKey: ["id"])

    func archive(_ changes: String, id: String = "010_people", top: String = "") throws -> ArchiveSQL {
        let loaded = PlanLoader.load(file: "plans/\(id).yaml", source: "table: people\n\(top)changes:\n" + changes)
        let plan = try #require(loaded.plan, "\(loaded.findings)")
        let compiled = TransitionCompiler.compile(plan, table: table)
        return ArchiveSQL(try #require(compiled.transition, "\(compiled.findings)"))
    }

    func columns(_ changes: String) throws -> [String] { try archive(changes).columns.map(\.name) }

    @Test func theColumnsContractDropsAreArchivedWithTheirOldTypes() throws {
        #expect(try columns("  - alter: email\n    rename_to: email_address\n") == ["email"])
        let retyped = try archive("  - alter: score\n    type: bigint\n    up: \"score::bigint\"\n    down: \"score::integer\"\n")
        #expect(retyped.columns == [ColumnInfo(name: "score", type: "integer", notNull: false)], "the old type, not the new one")
        #expect(try columns("  - drop: legacy\n") == ["legacy"])
        #expect(try columns("""
              - merge: [given_name, family_name]
                into: full_name
                type: text
                up: "concat_ws(' ', given_name, family_name)"
                down: { given_name: "split_part(full_name, ' ', 1)", family_name: "split_part(full_name, ' ', 2)" }

            """) == ["given_name", "family_name"])
        #expect(try columns("""
              - split: email
                into:
                  - { column: local_part, type: text, up: "split_part(email, '@', 1)" }
                  - { column: domain, type: text, up: "split_part(email, '@', 2)" }
                down: "local_part || '@' || domain"

            """) == ["email"])
    }

    @Test func changesThatDropNothingArchiveNothing() throws {
        #expect(try archive("  - add: nickname\n    type: text\n").isEmpty)
        #expect(try archive("  - alter: email\n    default: \"''\"\n").isEmpty)
        #expect(try archive("  - alter: email\n    comment: \"the address\"\n").isEmpty)
    }

    @Test func theArchiveIsKeyedByTheTablesKeyAndNamedWithin63Bytes() throws {
        let short = try archive("  - alter: email\n    rename_to: email_address\n")
        #expect(short.key.map(\.name) == ["id"])
        #expect(short.tableName == "010_people_people")
        #expect(short.qualifiedTable == "\"bellows_archive\".\"010_people_people\"")
        let long = String(repeating: "p", count: 70)
        let fitted = try archive("  - alter: email\n    rename_to: email_address\n", id: long)
        #expect(fitted.tableName.utf8.count == 63)
        #expect(fitted.tableName == TransitionNames.fitted(long + "_people"))
        #expect(fitted.triggerName.hasPrefix("!_bellows_archive_"), "Bellows' prefix: no user-trigger gate sees it; `!`: it fires before the table's own")
        #expect(fitted.triggerName.utf8.count <= 63 && fitted.functionName.utf8.count <= 63)
    }

    @Test func theArchiveIsOnUnlessThePlanOrTheProjectTurnsItOff() throws {
        let plain = try archive("  - alter: email\n    rename_to: email_address\n").transition.plan
        #expect(ArchiveSQL.enabled(plan: plain, projectDefault: nil))
        #expect(!ArchiveSQL.enabled(plan: plain, projectDefault: false))
        let off = try archive("  - alter: email\n    rename_to: email_address\n", top: "archive: false\n").transition.plan
        #expect(!ArchiveSQL.enabled(plan: off, projectDefault: nil))
        let on = try archive("  - alter: email\n    rename_to: email_address\n", top: "archive: true\n").transition.plan
        #expect(ArchiveSQL.enabled(plan: on, projectDefault: false), "the plan's key wins over bellows.yaml's")
    }

    @Test func theStatementsQuoteEveryNameAndTheBatchSkipsRowsTheTriggerWrote() throws {
        let archive = try archive("  - alter: email\n    rename_to: email_address\n")
        let prepare = archive.prepare.map(\.sql).joined(separator: "\n")
        #expect(prepare.contains("CREATE TABLE \"bellows_archive\".\"010_people_people\" (\n  \"id\" bigint NOT NULL,\n  \"email\" text,\n  \"_bellows_gone\" boolean NOT NULL DEFAULT false,\n  PRIMARY KEY (\"id\")\n)"))
        #expect(prepare.contains("SECURITY DEFINER SET search_path = pg_catalog, \"public\", pg_temp"))
        #expect(prepare.contains("AFTER INSERT OR UPDATE OR DELETE ON \"public\".\"people\""), "plain UPDATE: the dual-write trigger changes old columns")
        #expect(prepare.contains("ENABLE ALWAYS TRIGGER"))
        #expect(archive.batch(first: true).contains("ON CONFLICT (\"id\") DO NOTHING"))
        #expect(archive.batch(first: false).contains("WHERE (\"id\") > ($1::bigint) AND (\"id\") <= ($2::bigint)"))
        let complete = archive.complete.map(\.sql)
        #expect(complete.first?.hasPrefix("DROP TRIGGER IF EXISTS") == true)
        #expect(complete.contains("DELETE FROM \"bellows_archive\".\"010_people_people\" WHERE \"_bellows_gone\""))
    }

    /// hostile-h 13: a column of the database's own type is archived as text, so that the
    /// type does not depend on the archive; its type is recorded for restore.
    @Test func aColumnOfAUserTypeIsArchivedAsTextAndItsTypeRecorded() throws {
        let compiled = try archive("  - alter: email\n    rename_to: email_address\n")
        let archive = ArchiveSQL(compiled.transition, keptAsText: ["email": "public.address"])
        let prepare = archive.prepare.map(\.sql).joined(separator: "\n")
        #expect(prepare.contains("  \"email\" text,\n"))
        #expect(prepare.contains("SELECT NEW.\"id\", bellows_r.\"email\"::text, bellows_r.bellows_found IS NULL"))
        #expect(archive.batch(first: true).contains("SELECT \"id\", \"email\"::text FROM"))
        #expect(archive.recordedTypes == ["public.address"])
        #expect(compiled.recordedTypes == ["text"])
    }

    /// The proof joins by key, skips tombstones, and compares each kept value with the row's as
    /// the archive stores it: the recorded type, or text for a column of the database's own type.
    @Test func theProofComparesEveryKeptValueAsTheArchiveStoresIt() throws {
        let merged = try archive("""
              - merge: [given_name, family_name]
                into: full_name
                type: text
                up: "concat_ws(' ', given_name, family_name)"
                down: { given_name: "split_part(full_name, ' ', 1)", family_name: "split_part(full_name, ' ', 2)" }

            """)
        #expect(merged.proof.contains("LEFT JOIN \"bellows_archive\".\"010_people_people\" AS bellows_a ON bellows_a.\"id\" = bellows_t.\"id\" AND NOT bellows_a.\"_bellows_gone\""))
        // Text compared byte by byte, as verify does (identity pairs, no row built per row).
        #expect(merged.proof.contains("WHERE bellows_a.\"id\" IS NULL OR ((bellows_a.\"given_name\" COLLATE \"C\") IS DISTINCT FROM (bellows_t.\"given_name\" COLLATE \"C\") OR (bellows_a.\"family_name\" COLLATE \"C\") IS DISTINCT FROM (bellows_t.\"family_name\" COLLATE \"C\"))"), "\(merged.proof)")
        #expect(merged.proofSample.hasPrefix("SELECT ROW(bellows_t.\"id\")::text AS key") && merged.proofSample.hasSuffix("LIMIT 3"))
        let compiled = TransitionCompiler.compile(try #require(PlanLoader.load(file: "plans/010_people.yaml",
            source: "table: people\nchanges:\n  - alter: email\n    rename_to: email_address\n").plan), table: table)
        let typed = ArchiveSQL(try #require(compiled.transition), keptAsText: ["email": "public.address"])
        // A value kept as text: its text, and where it differs, read back into its type and printed again.
        #expect(typed.proof.contains("""
            CASE WHEN (bellows_a."email" COLLATE "C") IS NOT DISTINCT FROM (bellows_t."email"::text COLLATE "C") THEN false \
            ELSE (bellows_a."email"::public.address::text COLLATE "C") IS DISTINCT FROM (bellows_t."email"::text COLLATE "C") END
            """), "\(typed.proof)")
        // The live type, not expand's: a column widened since keeps its values whole.
        let widened = ArchiveSQL(try #require(compiled.transition), liveTypes: ["email": "character varying(200)"])
        #expect(widened.prepare.map(\.sql).joined().contains("\"email\" character varying(200)"))
        #expect(widened.recordedTypes == ["character varying(200)"])
        // The trigger fires before the table's own AFTER triggers and archives the row as the table holds it;
        // one under its earlier name is dropped.
        #expect(widened.prepare.map(\.sql).joined().contains("FROM \"public\".\"people\" AS bellows_t WHERE bellows_t.\"id\" = NEW.\"id\" LIMIT 1) AS bellows_r ON true"))
        #expect(widened.prepare.map(\.sql).joined().contains("SECURITY DEFINER SET search_path = pg_catalog, \"public\", pg_temp SET row_security = off"))
        #expect(widened.prepare.map(\.sql).joined().contains("CREATE TRIGGER \"!_bellows_archive_010_people\" AFTER INSERT OR UPDATE OR DELETE"))
        #expect(widened.prepareTrigger.first { $0.sql.contains("\"_bellows_archive_010_people\"") }?.sql.hasPrefix("DROP TRIGGER IF EXISTS") == true)
    }

    @Test func theBackfillBatchIsUnchangedByTheSharedKeyset() throws {
        let plan = try #require(PlanLoader.load(file: "plans/010_people.yaml",
                                                source: "table: people\nchanges:\n  - alter: score\n    type: bigint\n    up: \"score::bigint\"\n    down: \"score::integer\"\n").plan)
        let sql = PhaseSQL(try #require(TransitionCompiler.compile(plan, table: table).transition))
        #expect(sql.backfillBatch(first: true).bound == sql.keyset.bound(first: true))
        #expect(sql.backfillUpperBound == "SELECT ARRAY[\"id\"::text] AS max_key FROM \"public\".\"people\" ORDER BY \"id\" DESC LIMIT 1")
    }

    @Test func expectedSizeGrowsWithRowsAndWidths() {
        #expect(ArchiveSQL.expectedBytes(rows: 0, keyWidths: [8], columnWidths: [20]) == 0)
        let small = ArchiveSQL.expectedBytes(rows: 1000, keyWidths: [8], columnWidths: [20])
        let wide = ArchiveSQL.expectedBytes(rows: 1000, keyWidths: [8], columnWidths: [200])
        #expect(small > 1000 * 50 && small < 1000 * 120, "\(small)")
        #expect(wide > small)
        #expect(ArchiveSQL.expectedBytes(rows: 2000, keyWidths: [8], columnWidths: [20]) == 2 * small || ArchiveSQL.expectedBytes(rows: 2000, keyWidths: [8], columnWidths: [20]) == 2 * small - 1)
    }

    /// `estimate` and `render -d` size the archive from the table's rows and column widths, and
    /// say where the widths came from; off, or with nothing dropped, there is no size.
    @Test func theArchiveSizeSaysWhereItsWidthsCameFrom() throws {
        let rename = try archive("  - alter: email\n    rename_to: email_address\n")
        let statistics = TableStatistics(rows: 1000, rowsCounted: true, widths: [
            "id": ColumnWidth(bytes: 8, source: .statistics), "email": ColumnWidth(bytes: 20.4, source: .statistics),
        ], sampleRows: 0)
        let size = try #require(rename.size(off: nil, statistics: statistics))
        #expect(size.bytes == ArchiveSQL.expectedBytes(rows: 1000, keyWidths: [8], columnWidths: [20]))
        #expect(size.rows == 1000 && size.rowsCounted == true && size.enabled && size.source == "widths from pg_stats", "\(size)")
        #expect(size.table == "\"bellows_archive\".\"010_people_people\"" && size.columns == ["email"] && size.key == ["id"])

        var mixed = statistics
        mixed.widths["email"] = ColumnWidth(bytes: 30, source: .sample)
        mixed.sampleRows = 1000
        #expect(rename.size(off: nil, statistics: mixed)?.source == "widths from pg_column_size over a sample of 1000 rows (email); pg_stats (id)")
        mixed.widths["email"] = nil
        #expect(rename.size(off: nil, statistics: mixed)?.source == "widths from pg_stats (id); 8 bytes assumed for email (no statistics, no sample)")

        let unread = try #require(rename.size(off: nil, statistics: nil, withoutStatistics: "needs -d"))
        #expect(unread.bytes == nil && unread.rows == nil && unread.source == "needs -d")
        let off = try #require(rename.size(off: "`archive: false` in the plan", statistics: statistics))
        #expect(!off.enabled && off.bytes == nil && off.source.hasPrefix("archive off"), "\(off)")
        #expect(try archive("  - add: note\n    type: text\n").size(off: nil, statistics: statistics) == nil)

        // Where `archive: false` comes from: the plan wins over bellows.yaml.
        #expect(ArchiveSQL.off(plan: rename.transition.plan, projectDefault: nil) == nil)
        #expect(ArchiveSQL.off(plan: rename.transition.plan, projectDefault: false) == "`archive: false` in bellows.yaml")
        let kept = try archive("  - alter: email\n    rename_to: email_address\n", top: "archive: true\n")
        #expect(ArchiveSQL.off(plan: kept.transition.plan, projectDefault: false) == nil)
        let dropped = try archive("  - alter: email\n    rename_to: email_address\n", top: "archive: false\n")
        #expect(ArchiveSQL.off(plan: dropped.transition.plan, projectDefault: true) == "`archive: false` in the plan")
    }

    @Test func retentionIsANumberAndAUnit() throws {
        #expect(ArchiveRetention.parse("30 days") == 30 * 86_400)
        #expect(ArchiveRetention.parse("1 day") == 86_400)
        #expect(ArchiveRetention.parse("12 hours") == 12 * 3600)
        #expect(ArchiveRetention.parse("2 weeks") == 14 * 86_400)
        #expect(ArchiveRetention.parse("90 minutes") == 5400)
        #expect(ArchiveRetention.parse("30") == nil)
        #expect(ArchiveRetention.parse("soon") == nil)
        #expect(ArchiveRetention.parse("-1 days") == nil)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-archive-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/bellows.yaml"
        try "archive: false\narchive_retention: 30 days\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (configuration, findings) = ProjectConfig.load(path: path)
        #expect(findings.isEmpty)
        #expect(configuration.archive == false && configuration.archiveRetentionSeconds == 30 * 86_400)
        try "archive_retention: forever\n".write(toFile: path, atomically: true, encoding: .utf8)
        let wrong = ProjectConfig.load(path: path).1
        #expect(wrong.map(\.rule) == ["plan-invalid-value"] && wrong.first?.line == 1)
    }
}
