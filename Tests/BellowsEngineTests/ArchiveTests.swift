import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Contract keeps what it drops in `bellows_archive`, and `archive restore` brings it back
/// (issue 24, fourth bullet).
@Suite(.serialized, needsDatabase) struct ArchiveTests {
    static let rename = """
        table: people
        changes:
          - alter: email
            rename_to: email_address
        """

    static let retype = """
        table: scores
        changes:
          - alter: n
            type: bigint
            up: "n::bigint"
            down: "n::integer"
        """

    /// Writes from another session while contract archives: once the first batch is in the
    /// archive, `fixed` (a row already archived updated, one set to NULL, one deleted, one
    /// inserted); then random rows, old code's column and new code's (`random(i)`), until the
    /// archive's trigger is gone or contract's lock is in the way (lock_timeout 1 ms): no write
    /// after the drop, so the archive must equal the live values.
    static func writer(_ fixture: EngineFixture, archive: String, table: String, fixed: [String],
                       random: @escaping @Sendable (Int) -> String, stop: Shared<Bool>, log: Shared<[String]>) -> Worker {
        let conninfo = fixture.db.conninfo
        return Worker("archive-writer") {
            guard let connection = try? Connection(conninfo) else { return }
            defer { connection.close() }
            let deadline = Date().addingTimeInterval(60)
            while !stop.current && Date() < deadline {
                let present = (try? connection.query("SELECT count(*)::int AS n FROM \(archive)").first?.int("n")) ?? 0
                if present > 0 { break }
                usleep(2000)
            }
            do {
                for statement in fixed { try connection.execute(statement) }
                log.update { $0.append("fixed writes done") }
                try connection.execute("SET lock_timeout = '1ms'")
            } catch {
                log.update { $0.append("fixed writes failed: \(error)") }
                return
            }
            var i = 0
            while !stop.current {
                i += 1
                do {
                    let written = try connection.execute(random(i) + """
                         AND EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '\(table)'::regclass AND tgname LIKE '!\\_bellows\\_archive%')
                        """).affectedRows
                    if written == 0 { log.update { $0.append("the archive's trigger is gone after \(i) writes") }; return }
                } catch {
                    log.update { $0.append("stopped after \(i) writes: \(error)") }
                    return
                }
                usleep(500)
            }
        }
    }

    @Test func afterContractOfARenameRestoreBringsBackEveryValueOfTheDroppedColumn() throws {
        let fixture = try EngineFixture("archive_rename")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            INSERT INTO people SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'user' || g || '@example.com' END FROM generate_series(1, 2000) g;
            """)
        try fixture.writePlan("001_rename", Self.rename)
        try fixture.forward("001_rename", through: .verify)
        let archive = "bellows_archive.\"001_rename_people\""
        let stop = Shared(false)
        let log = Shared<[String]>([])
        let writer = Self.writer(fixture, archive: archive, table: "people", fixed: [
            "UPDATE people SET email = email || '-changed' WHERE id = 5", "UPDATE people SET email = NULL WHERE id = 7",
            "DELETE FROM people WHERE id = 6", "INSERT INTO people (id, email) VALUES (100000, 'w100000@example.com')",
        ], random: { i in
            "UPDATE people SET \(i % 2 == 0 ? "email" : "email_address") = 'r\(i)@example.com' WHERE id = \((i * 37) % 2000 + 1)"
        }, stop: stop, log: log)
        let outcome = try fixture.run(.contract, "001_rename") { $0.batchSize = 50; $0.pauseMilliseconds = 20 }
        stop.update { $0 = true }
        writer.join()
        #expect(log.current.first == "fixed writes done", "\(log.current)")
        #expect(outcome.details["archive"] == .string(archive.replacingOccurrences(of: "\"", with: "")))
        // The archive is the dropped column at the moment of the drop: for a rename, the new column's values then.
        #expect(try fixture.int("""
            SELECT count(*) FROM people p FULL JOIN \(archive) a USING (id)
            WHERE p.id IS NULL OR a.id IS NULL OR a.email IS DISTINCT FROM p.email_address
            """) == 0)
        #expect(try fixture.rows("SELECT email FROM \(archive) WHERE id IN (5, 7, 100000) ORDER BY id")
                == [["user5@example.com-changed"], [nil], ["w100000@example.com"]])
        #expect(try fixture.int("SELECT count(*) FROM \(archive) WHERE id = 6") == 0, "a row deleted during the batches is not kept")
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'people'::regclass AND tgname LIKE '%bellows_archive%'") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = '_bellows_gone' AND NOT attisdropped", [archive]) == 0)
        let entries = try fixture.engine().archives()
        #expect(entries.count == 1)
        #expect(entries.first?.owner == "001_rename" && entries.first?.columns == ["email"] && entries.first?.keyColumns == ["id"])
        #expect(entries.first?.rows == 2000 && (entries.first?.bytes ?? 0) > 0)

        let restored = try fixture.engine().restoreArchive(plan: "001_rename")
        let nonNull = try fixture.int("SELECT count(email) FROM \(archive)")
        // The writer may still write a row or two between contract's commit and its stop (CI
        // run of a59aafb, a loaded machine: one): restore leaves those alone, and says so.
        let since = restored.restored.first?.writtenSince ?? 0
        #expect(since <= 3)
        #expect(restored.restored == [RestoredColumn(column: "email", into: "email_restored", type: "text", rows: nonNull - since, writtenSince: since)])
        #expect(try fixture.int("SELECT count(*) FROM people WHERE email_restored IS DISTINCT FROM email_address") == since)
        let nulls = try fixture.int("SELECT count(*) FROM people WHERE email_restored IS NULL")
        #expect(nulls >= 2000 - nonNull && nulls <= 2000 - nonNull + since, "NULLs stay NULL")
        #expect(try fixture.int("SELECT count(*) FROM people WHERE email_restored IS NULL AND id % 10 = 0") > 0)
        // Never over live data: the same name again is refused.
        #expect(throws: BellowsError.self) { try fixture.engine().restoreArchive(plan: "001_rename") }
        let into = try fixture.engine().restoreArchive(plan: "001_rename", column: "email", into: "email_again")
        #expect(into.restored.first?.into == "email_again")
        #expect(try fixture.events("001_rename").contains { $0.command == "archive restore" })
    }

    @Test func afterContractOfASameNameTypeChangeRestoreBringsBackTheOldTypedValues() throws {
        let fixture = try EngineFixture("archive_retype")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE scores (id integer PRIMARY KEY, n integer);
            INSERT INTO scores SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE g * 3 END FROM generate_series(1, 2000) g;
            """)
        try fixture.writePlan("001_retype", Self.retype)
        try fixture.forward("001_retype", through: .verify)
        let archive = "bellows_archive.\"001_retype_scores\""
        let stop = Shared(false)
        let log = Shared<[String]>([])
        let writer = Self.writer(fixture, archive: archive, table: "scores", fixed: [
            "UPDATE scores SET n = n + 1000 WHERE id = 5", "UPDATE scores SET n = NULL WHERE id = 7",
            "DELETE FROM scores WHERE id = 6", "INSERT INTO scores (id, n) VALUES (100000, 100000)",
        ], random: { i in
            "UPDATE scores SET \(i % 2 == 0 ? "n" : "_bellows_n") = \(i) WHERE id = \((i * 37) % 2000 + 1)"
        }, stop: stop, log: log)
        try fixture.run(.contract, "001_retype") { $0.batchSize = 50; $0.pauseMilliseconds = 20 }
        stop.update { $0 = true }
        writer.join()
        #expect(log.current.first == "fixed writes done", "\(log.current)")
        #expect(try fixture.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'n'", [archive])
                == [["integer"]])
        #expect(try fixture.int("""
            SELECT count(*) FROM scores s FULL JOIN \(archive) a USING (id)
            WHERE s.id IS NULL OR a.id IS NULL OR a.n::bigint IS DISTINCT FROM s.n
            """) == 0)
        #expect(try fixture.rows("SELECT n FROM \(archive) WHERE id IN (5, 7) ORDER BY id") == [["1015"], [nil]])
        let restored = try fixture.engine().restoreArchive(plan: "001_retype", column: "n")
        #expect(restored.restored.first?.into == "n_restored" && restored.restored.first?.type == "integer")
        // As in the rename's test: a row the writer wrote after contract's commit is left alone (CI run of 30cd44f).
        let since = restored.restored.first?.writtenSince ?? 0
        #expect(since <= 3)
        // On a failure, the rows restore left and their writers against contract's transaction.
        let differing = try fixture.rows("""
            SELECT s.id::text, s.xmin::text, s.n::text, a.n::text, (SELECT contract_xid::text FROM bellows.archives)
            FROM scores s JOIN \(archive) a USING (id) WHERE s.n_restored IS DISTINCT FROM a.n
            """)
        #expect(differing.count == since, "id, xmin, live n, archived n, contract's xid: \(differing); writer: \(log.current)")
        #expect(try fixture.int("SELECT count(*) FROM scores WHERE n_restored::bigint IS DISTINCT FROM n") == since)
    }

    @Test func archiveOffInThePlanOrInBellowsYamlKeepsNothing() throws {
        let fixture = try EngineFixture("archive_off")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            CREATE TABLE scores (id integer PRIMARY KEY, n integer);
            INSERT INTO people SELECT g, 'u' || g FROM generate_series(1, 100) g;
            INSERT INTO scores SELECT g, g FROM generate_series(1, 100) g;
            """)
        try fixture.writePlan("001_rename", Self.rename.replacingOccurrences(of: "changes:", with: "archive: false\nchanges:"))
        try fixture.forward("001_rename", through: .contract)
        try "archive: false\n".write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        try fixture.writePlan("002_retype", Self.retype)
        try fixture.forward("002_retype", through: .contract)
        #expect(try fixture.int("SELECT count(*) FROM bellows.archives") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace('bellows_archive')") == 0)
        #expect(try fixture.engine().archives().isEmpty)
    }

    @Test func purgeRemovesAPlansArchiveOrTheExpiredOnesAndNothingElse() throws {
        let fixture = try EngineFixture("archive_purge")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            CREATE TABLE scores (id integer PRIMARY KEY, n integer);
            INSERT INTO people SELECT g, 'u' || g FROM generate_series(1, 100) g;
            INSERT INTO scores SELECT g, g FROM generate_series(1, 100) g;
            """)
        try fixture.writePlan("001_rename", Self.rename)
        try fixture.writePlan("002_retype", Self.retype)
        // Each archive keeps the retention it was made under (hostile-h 12).
        try "archive_retention: 1 hour\n".write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        try fixture.forward("001_rename", through: .contract)
        try fixture.forward("002_retype", through: .contract)
        #expect(try fixture.engine().archives().map(\.owner) == ["001_rename", "002_retype"])
        // Neither a plan nor --expired: refused.
        #expect(throws: BellowsError.self) { try fixture.engine().purgeArchives(plan: nil, expiredOnly: false) }
        #expect(try fixture.engine().purgeArchives(plan: nil, expiredOnly: true).isEmpty, "nothing expired yet")
        try fixture.exec("UPDATE bellows.archives SET created_at = now() - interval '2 hours' WHERE plan_id = '002_retype'")
        #expect(try fixture.engine().archives().map { "\($0.owner) \($0.expired)" } == ["002_retype true", "001_rename false"])
        #expect(try fixture.engine().purgeArchives(plan: nil, expiredOnly: true).map(\.owner) == ["002_retype"])
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace('bellows_archive') AND relkind = 'r'") == 1)
        #expect(try fixture.engine().purgeArchives(plan: "001", expiredOnly: false).map(\.owner) == ["001_rename"])
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace('bellows_archive') AND relkind = 'r'") == 0)
        #expect(try fixture.int("SELECT count(*) FROM bellows.archives") == 0)
        #expect(try fixture.events("002_retype").contains { $0.command == "archive purge" })
    }

    /// The archive is proven before the drop. Here a load that ran with the archive's trigger
    /// disabled while contract filled the archive (as a walk that ended short or read a key
    /// back wrong did, hostile-m 03, 05, 10) left one row out of it and another's value stale:
    /// before the proof, contract dropped both values and reported success.
    @Test func contractIsRefusedWhenTheArchiveMissesARowOrHoldsAnotherValue() throws {
        let fixture = try EngineFixture("archive_proof")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            INSERT INTO people SELECT g, 'u' || g FROM generate_series(1, 500) g;
            """)
        try fixture.writePlan("001_rename", Self.rename)
        try fixture.forward("001_rename", through: .verify)
        let loaded = Shared(false)
        let refusal = expectRefusal { try fixture.engine(reporter: { event in
            guard case .info(let text) = event, text.hasPrefix("archived "), !loaded.current else { return }
            loaded.update { $0 = true }
            let trigger = (try? fixture.rows("SELECT quote_ident(tgname) FROM pg_trigger WHERE tgrelid = 'people'::regclass AND tgname LIKE '%archive%'"))?.first?.first ?? nil
            try? fixture.exec("""
                ALTER TABLE people DISABLE TRIGGER \(trigger ?? "none");
                INSERT INTO people (id, email) VALUES (1000, 'loaded');
                UPDATE people SET email = 'edited' WHERE id = 7;
                ALTER TABLE people ENABLE ALWAYS TRIGGER \(trigger ?? "none");
                """)
        }).run(.contract, plan: "001_rename") }
        #expect(loaded.current)
        #expect(refusal?.gates == ["archive"], "\(refusal?.text ?? "")")
        let message = refusal?.failures.first?.message ?? ""
        #expect(message.contains("1 row(s) of the table have no archive row and 1 have other values"), "\(message)")
        #expect(message.contains("(7)") && message.contains("(1000)"), "\(message)")
        // Nothing dropped, the archive and its trigger gone, the plan still verified.
        #expect(try fixture.state("001_rename")?.phase == .verified)
        #expect(try fixture.int("SELECT count(*) FROM people WHERE email IS NOT NULL") == 501)
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname = '001_rename_people'") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'people'::regclass AND tgname LIKE '%bellows_archive%'") == 0)
        #expect(try fixture.events("001_rename").last?.outcome == "refused")
        // The next contract archives every row again, the loaded one too.
        try fixture.run(.contract, "001_rename")
        #expect(try fixture.rows("SELECT email FROM bellows_archive.\"001_rename_people\" WHERE id IN (7, 1000) ORDER BY id") == [["edited"], ["loaded"]])
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_rename_people\"") == 501)
    }

    @Test func contractIsRefusedBeforeAnyChangeWhenTheRoleMayNotCreateTheArchive() throws {
        let fixture = try EngineFixture("archive_refused")
        defer { fixture.close() }
        // A role with a password where the cluster asks for one (DataSafetyTests.role), here without CREATE on the database.
        let limited = try DataSafetyTests.role(fixture, "archive")
        defer { limited.drop() }
        let role = limited.name
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            INSERT INTO people SELECT g, 'u' || g FROM generate_series(1, 100) g;
            REVOKE CREATE ON DATABASE \(fixture.db.name) FROM \(role);
            """)
        try fixture.writePlan("001_rename", Self.rename)
        try fixture.forward("001_rename", through: .verify)
        try fixture.exec("""
            ALTER TABLE people OWNER TO \(role);
            ALTER FUNCTION bellows."sync_001_rename"() OWNER TO \(role);
            GRANT USAGE, CREATE ON SCHEMA bellows TO \(role);
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA bellows TO \(role);
            REVOKE CREATE ON DATABASE \(fixture.db.name) FROM PUBLIC;
            """)
        let before = try fixture.snapshot("people")
        let refusal = expectRefusal { try Engine(project: fixture.project, options: fixture.options {
            $0.conninfo = fixture.db.conninfo + " user=\(role)"
        }).run(.contract, plan: "001_rename") }
        #expect(refusal?.gates == ["archive"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("archive: false") == true)
        #expect(try fixture.snapshot("people") == before)
        #expect(try fixture.state("001_rename")?.phase == .verified)
        #expect(try fixture.int("SELECT count(*) FROM pg_namespace WHERE nspname = 'bellows_archive'") == 0)
        #expect(try fixture.int("SELECT count(*) FROM people WHERE email IS NOT NULL") == 100)
        // Once the role may create it, the same contract archives and drops.
        try fixture.exec("GRANT CREATE ON DATABASE \(fixture.db.name) TO \(role)")
        try Engine(project: fixture.project, options: fixture.options { $0.conninfo = fixture.db.conninfo + " user=\(role)" })
            .run(.contract, plan: "001_rename")
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_rename_people\" WHERE email IS NOT NULL") == 100)
    }
}

/// `migrate rollback --archive` keeps what the rollback file drops; without it the preview says how much is lost.
@Suite(.serialized, needsDatabase) struct MigrationArchiveTests {
    @Test func migrateRollbackWithArchiveKeepsADroppedTablesRowsAndAColumnsValues() throws {
        let fixture = try EngineFixture("archive_migrate")
        defer { fixture.close() }
        let migrations = fixture.root + "/migrations"
        try FileManager.default.createDirectory(atPath: migrations + "/rollback", withIntermediateDirectories: true)
        try "CREATE TABLE people (id bigint PRIMARY KEY, email text);\n".write(toFile: migrations + "/001_people.sql", atomically: true, encoding: .utf8)
        try "CREATE TABLE notes (id int PRIMARY KEY, body text);\nALTER TABLE people ADD COLUMN nickname text;\n"
            .write(toFile: migrations + "/002_notes.sql", atomically: true, encoding: .utf8)
        try "DROP TABLE notes;\nALTER TABLE people DROP COLUMN nickname;\n"
            .write(toFile: migrations + "/rollback/002_notes.sql", atomically: true, encoding: .utf8)
        let runner = MigrationRunner(project: fixture.project, options: MigrationOptions(conninfo: fixture.db.conninfo, actor: "tester"))
        try runner.apply()
        try fixture.exec("""
            INSERT INTO people SELECT g, 'u' || g, CASE WHEN g % 2 = 0 THEN 'nick' || g END FROM generate_series(1, 300) g;
            INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g;
            """)
        // What would be gone for good, before anything runs: rows and bytes of each.
        let preview = try runner.rollbackPreview("002")
        let table = try #require(preview.losses.first { $0.kind == .table })
        #expect(table.rows == 50 && (table.bytes ?? 0) > 8192, "\(table)")
        let column = try #require(preview.losses.first { $0.kind == .column })
        #expect(column.rows == 150 && (column.bytes ?? 0) > 150 * 6, "\(column)")

        let result = try runner.rollback("002", archive: true)
        #expect(result.archived == ["002_notes_notes", "002_notes_people_nickname"])
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE oid = to_regclass('public.notes')") == 0, "the rollback ran")
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"002_notes_notes\"") == 50)
        #expect(try fixture.rows("SELECT body FROM bellows_archive.\"002_notes_notes\" WHERE id = 7") == [["note 7"]])
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"002_notes_people_nickname\"") == 300)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"002_notes_people_nickname\" WHERE nickname = 'nick' || id") == 150)
        let entries = try fixture.engine().archives()
        #expect(entries.map { "\($0.owner) \($0.source) \($0.table) \($0.columns) \($0.keyColumns) \($0.rows ?? -1)" } == [
            "002_notes migrate rollback public.notes [] [\"id\"] 50",
            "002_notes migrate rollback public.people [\"nickname\"] [\"id\"] 300",
        ])
        // Applied and rolled back again: the second archive gets a name of its own.
        try runner.apply()
        try fixture.exec("INSERT INTO notes VALUES (1, 'again')")
        #expect(try runner.rollback("002", archive: true).archived == ["002_notes_notes_2", "002_notes_people_nickname_2"])
        #expect(try fixture.engine().purgeArchives(plan: "002_notes", expiredOnly: false).count == 4)
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace('bellows_archive') AND relkind = 'r'") == 0)
    }
}

/// hostile-h findings on the archive (docs/findings/2026-12-03-hostile-h).
extension ArchiveTests {
    /// hostile-h 12: `--expired` judged every archive by the reader's bellows.yaml; each archive
    /// now expires by the retention of the project that made it, recorded with it.
    @Test func anArchiveExpiresByTheRetentionItWasMadeUnderNotTheReaders() throws {
        let fixture = try EngineFixture("archive_retention")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            INSERT INTO people SELECT g, 'u' || g FROM generate_series(1, 100) g;
            """)
        try "archive_retention: 365 days\n".write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        try fixture.writePlan("001_rename", Self.rename)
        try fixture.forward("001_rename", through: .contract)
        try fixture.exec("UPDATE bellows.archives SET created_at = now() - interval '2 hours'")
        // Read (and purged) under a retention of one minute: the archive's own is a year.
        try "archive_retention: 1 minutes\n".write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        #expect(try fixture.engine().archives().map(\.expired) == [false])
        #expect(try fixture.engine().purgeArchives(plan: nil, expiredOnly: true).isEmpty)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_rename_people\"") == 100)
        try fixture.exec("UPDATE bellows.archives SET created_at = now() - interval '366 days'")
        #expect(try fixture.engine().purgeArchives(plan: nil, expiredOnly: true).map(\.owner) == ["001_rename"])
    }

    /// hostile-h 15: a contract killed during its archive batches left the archive's trigger; the
    /// next contract dropped the stale table, then failed 42710 creating the trigger.
    @Test func contractAfterOneKilledDuringItsArchiveRemovesTheLeftoverTriggerAndGoesOn() throws {
        let fixture = try EngineFixture("archive_killed")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            INSERT INTO people SELECT g, 'u' || g FROM generate_series(1, 100) g;
            """)
        try fixture.writePlan("001_rename", Self.rename)
        try fixture.forward("001_rename", through: .verify)
        // What a contract killed (kill -9) during its batches leaves: the unrecorded table, the function, the trigger.
        try fixture.exec("""
            CREATE SCHEMA bellows_archive;
            CREATE TABLE bellows_archive."001_rename_people" (id bigint PRIMARY KEY, email text, _bellows_gone boolean NOT NULL DEFAULT false);
            CREATE FUNCTION bellows."archive_001_rename"() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$;
            CREATE TRIGGER "_bellows_archive_001_rename" AFTER INSERT OR UPDATE OR DELETE ON people
              FOR EACH ROW EXECUTE FUNCTION bellows."archive_001_rename"();
            """)
        // status names it, and what removes it (hostile-h 15: it said nothing).
        func leftover() throws -> String? { try fixture.engine().status().first { $0.id == "001_rename" }?.unfinishedArchiveTrigger }
        #expect(try leftover() == "_bellows_archive_001_rename")
        try fixture.run(.contract, "001_rename")
        #expect(try leftover() == nil)
        #expect(try fixture.state("001_rename")?.phase == .contracted)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_rename_people\" WHERE email = 'u' || id") == 100)
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'people'::regclass AND tgname LIKE '%bellows_archive%'") == 0)
    }

    /// Issue 22: contract's archive was prepared in one transaction: the archive table, its
    /// index, its function and the trigger, whose `CREATE TRIGGER` blocks the table's writers
    /// until the transaction commits (41 ms for that commit in `scripts/bench`). The slow part
    /// now commits first, and the trigger has a transaction of its own: when contract first waits
    /// behind a writer, the archive table is already there.
    @Test func theArchiveTableIsCommittedBeforeTheTriggerBlocksWriters() throws {
        let fixture = try EngineFixture("archive_lock_order")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text);
            INSERT INTO people SELECT g, 'u' || g FROM generate_series(1, 500) g;
            """)
        try fixture.writePlan("001_rename", Self.rename)
        try fixture.forward("001_rename", through: .verify)
        let writer = try fixture.db.connect()
        defer { writer.close() }
        try writer.execute("BEGIN")
        try writer.execute("UPDATE people SET email = email WHERE id = 1")
        let outcome = Shared<Result<PhaseOutcome, any Error>?>(nil)
        let engine = fixture.engine()
        let worker = Worker("contract") {
            let result = Result<PhaseOutcome, any Error> { try engine.run(.contract, plan: "001_rename") }
            outcome.update { $0 = result }
        }
        let waiting = "SELECT count(*) FROM pg_locks WHERE relation = 'people'::regclass AND NOT granted"
        #expect(try eventually(20) { try fixture.int(waiting) >= 1 || outcome.current != nil }, "contract never waited for the writer")
        let archiveTable = try fixture.int("SELECT count(*) FROM pg_class WHERE oid = to_regclass('bellows_archive.\"001_rename_people\"')")
        try writer.execute("ROLLBACK")
        #expect(worker.join(timeout: 30))
        _ = try #require(outcome.current).get()
        #expect(archiveTable == 1, "contract waited behind a writer before the archive table was committed")
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_rename_people\" WHERE email = 'u' || id") == 500)
    }
}

extension MigrationArchiveTests {
    /// hostile-h 01: a rollback file that sets its own search_path: the preview and the archive
    /// resolved its unqualified names under the connection's (another schema's table archived,
    /// the real one dropped with nothing kept).
    @Test func rollbackWithArchiveResolvesNamesUnderTheFilesOwnSearchPath() throws {
        let fixture = try EngineFixture("archive_migrate_path")
        defer { fixture.close() }
        let migrations = fixture.root + "/migrations"
        try FileManager.default.createDirectory(atPath: migrations + "/rollback", withIntermediateDirectories: true)
        try """
            CREATE SCHEMA app;
            CREATE TABLE app.widgets (id int PRIMARY KEY, name text);
            CREATE TABLE public.widgets (id int PRIMARY KEY, name text);
            CREATE TABLE app.nopk (code text UNIQUE NOT NULL, a text);
            """.write(toFile: migrations + "/001_init.sql", atomically: true, encoding: .utf8)
        try """
            INSERT INTO app.widgets SELECT g, 'app' || g FROM generate_series(1, 100) g;
            INSERT INTO public.widgets SELECT g, 'pub' || g FROM generate_series(1, 3) g;
            INSERT INTO app.nopk SELECT 'c' || g, 'a' || g FROM generate_series(1, 50) g;
            """.write(toFile: migrations + "/002_data.sql", atomically: true, encoding: .utf8)
        try "SET search_path TO app;\nDROP TABLE widgets;\nALTER TABLE nopk DROP COLUMN a;\n"
            .write(toFile: migrations + "/rollback/002_data.sql", atomically: true, encoding: .utf8)
        let runner = MigrationRunner(project: fixture.project, options: MigrationOptions(conninfo: fixture.db.conninfo, actor: "tester"))
        try runner.apply()
        let preview = try runner.rollbackPreview("002")
        #expect(preview.losses.filter { $0.kind == .table }.map { "\($0.object) \($0.rows ?? -1)" } == ["widgets 100"])
        #expect(preview.losses.filter { $0.kind == .column }.map { "\($0.object) \($0.exists ?? false) \($0.rows ?? -1)" } == ["nopk.a true 50"])
        let result = try runner.rollback("002", archive: true)
        #expect(result.archived == ["002_data_widgets", "002_data_nopk_a"])
        #expect(try fixture.int("SELECT count(*) FROM public.widgets") == 3, "the other schema's table is left alone")
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE oid = to_regclass('app.widgets')") == 0, "the rollback ran")
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"002_data_widgets\" WHERE name = 'app' || id") == 100)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"002_data_nopk_a\" WHERE a = 'a' || substr(code, 2)") == 50)
        #expect(try fixture.engine().archives().map(\.table).sorted() == ["app.nopk", "app.widgets"])
    }
}
