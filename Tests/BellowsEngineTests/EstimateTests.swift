@testable import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// `bellows estimate PLAN` (issue 24): measured on a real table in a transaction that is always
/// rolled back, leaving the database and the state as they were; refusing a missing table with
/// its location.
@Suite(needsDatabase)
struct EstimateTests {
    static let rows = 30_000

    static let plan = """
        table: items
        changes:
          - alter: note
            rename_to: body
        """

    func prepare(_ fixture: EngineFixture) throws {
        try fixture.exec("""
            CREATE TABLE items (id bigint PRIMARY KEY, note text, n integer);
            INSERT INTO items SELECT g, 'note ' || g || repeat('x', 60), g FROM generate_series(1, \(Self.rows)) AS g;
            """)
        try fixture.sql.execute("VACUUM ANALYZE items")
        try fixture.writePlan("001_rename_note", Self.plan)
        // The state schema exists before (every Bellows command creates it).
        try fixture.engine().connect().close()
    }

    /// Everything the estimate must leave as it was: the catalog of the database, the table's
    /// rows, Bellows' own objects and state rows (but the one event it records).
    func everything(_ fixture: EngineFixture) throws -> [String] {
        let catalog = try DatabaseSnapshot.take(fixture.sql).objects.map { "\($0.key): \($0.value.definition)" }.sorted()
        let data = try fixture.rows("SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM items i").map { "rows \($0)" }
        let own = try fixture.rows("""
            SELECT 'relation ' || relname FROM pg_class WHERE relnamespace = 'bellows'::regnamespace
            UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'bellows'::regnamespace
            UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = 'items'::regclass
            UNION ALL SELECT 'column ' || attname FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0
            ORDER BY 1
            """).map { "\($0)" }
        let state = try fixture.rows("""
            SELECT 'plans ' || count(*) || ' ' || coalesce(md5(string_agg(p::text, ',' ORDER BY id)), '') FROM bellows.plans p
            UNION ALL SELECT 'controls ' || count(*) FROM bellows.controls
            UNION ALL SELECT 'approvals ' || count(*) FROM bellows.approvals
            """).map { "\($0)" }
        return catalog + data + own + state
    }

    @Test func estimatesATableOfTensOfThousandsOfRowsAndLeavesItAsItWas() throws {
        let fixture = try EngineFixture("estimate")
        defer { fixture.close() }
        try prepare(fixture)
        let before = try everything(fixture)
        let eventsBefore = try fixture.int("SELECT count(*) FROM bellows.events")

        let report = try fixture.engine { $0.batchSize = nil }.estimate(plan: "001")

        // Rows: counted exactly (small), the planner's estimate near it.
        #expect(report.rows.exact == Self.rows)
        #expect(abs(report.rows.estimated - Self.rows) < Self.rows / 10, "\(report.rows)")
        #expect(report.size.heapBytes > Self.rows * 60, "\(report.size)")
        #expect(report.size.indexBytes > 0)
        // Duration from the sample: some batches, a rate and a duration within sane bounds
        // (30,000 rows: more than a millisecond, less than two minutes even on a loaded machine).
        #expect(report.backfill.needed)
        #expect(report.backfill.source == "sample", "\(report.backfill)")
        let sample = try #require(report.backfill.sample)
        #expect(sample.batches.count >= 3, "\(sample)")
        #expect(sample.rows > 0 && sample.rows <= Self.rows)
        let seconds = try #require(report.backfill.seconds)
        #expect(seconds > 0.001 && seconds < 120, "\(seconds)")
        // Growth: a copying change writes a new version of each row: more than nothing, less
        // than ten times the heap; WAL likewise.
        let heap = try #require(report.growth.heapBytesWithoutVacuum)
        #expect(heap > report.size.heapBytes / 4 && heap < report.size.heapBytes * 10, "\(report.growth) vs \(report.size)")
        let wal = try #require(report.wal.bytes)
        #expect(wal > Self.rows * 20 && wal < report.size.heapBytes * 20, "\(report.wal)")
        // Locks: expand's and contract's ACCESS EXCLUSIVE on the table, with a hold measured.
        let expand = try #require(report.locks.first { $0.phase == "expand" && $0.mode == "ACCESS EXCLUSIVE" })
        #expect(expand.holdMilliseconds != nil && expand.transaction)
        let contract = try #require(report.locks.first { $0.phase == "contract" && $0.mode == "ACCESS EXCLUSIVE" })
        #expect(contract.holdMilliseconds != nil)
        #expect(report.locks.contains { $0.phase == "backfill" && $0.mode == "ROW EXCLUSIVE" && $0.holdMilliseconds != nil })
        // The archive of the old column contract drops: every row's id and note, sized from
        // the statistics VACUUM ANALYZE took.
        let archive = try #require(report.archive)
        #expect(archive.columns == ["note"] && archive.key == ["id"] && archive.enabled && archive.rows == Self.rows, "\(archive)")
        #expect(archive.source == "widths from pg_stats", "\(archive)")
        #expect(report.archiveBytes == archive.bytes && (archive.bytes ?? 0) > Self.rows * 60, "\(archive)")

        // Nothing changed but one `estimate` event: the sample's transaction was rolled back,
        // no trigger, column, function or view is left, and no lock is held.
        #expect(try everything(fixture) == before)
        #expect(try fixture.int("SELECT count(*) FROM bellows.events") == eventsBefore + 1)
        let event = try #require(try fixture.events("001_rename_note").last)
        #expect(event.command == "estimate" && event.outcome == "succeeded" && event.details.contains("\"source\": \"sample\""), "\(event)")
        #expect(try fixture.int("SELECT count(*) FROM pg_locks WHERE relation = 'items'::regclass AND pid <> pg_backend_pid()") == 0)
        #expect(try fixture.state("001_rename_note") == nil, "the estimate registers no plan")

        // The plan then runs as ever. `status` compares its backfill with the estimate: a run
        // stopped after a few batches (its rate so far and an ETA), then the finished one.
        let id = "001_rename_note"
        try fixture.run(.expand, id)
        func comparison() throws -> EstimateComparison? { try fixture.engine().status().first { $0.id == id }?.estimate }
        #expect(try comparison()?.backfill == "not started")
        let checks = Shared(0)
        #expect(throws: BellowsError.self) {
            try fixture.run(.backfill, id) { $0.shouldStop = { checks.update { $0 += 1; return $0 > 4 } } }
        }
        let running = try #require(try comparison())
        #expect(running.backfill == "running" && running.source == "sample", "\(running)")
        #expect((running.rowsPerSecond ?? 0) > 0 && (running.etaSeconds ?? 0) > 0 && running.ratio != nil, "\(running)")
        try fixture.run(.backfill, id)
        let finished = try #require(try comparison())
        #expect(finished.backfill == "finished" && (finished.rowsPerSecond ?? 0) > 0 && finished.etaSeconds == nil, "\(finished)")
        let ratio = try #require(finished.ratio)
        #expect(ratio > 0.01 && ratio < 100, "\(finished)")

        // A second estimate reads the finished backfill (no sample after expand).
        let after = try fixture.engine().estimate(plan: "001")
        #expect(after.backfill.sampleSkipped != nil && after.backfill.source == "history", "\(after.backfill)")
        #expect(after.backfill.history?.plans == ["001_rename_note"])
    }

    /// An expand interrupted between its transaction and its index builds (phase planned,
    /// `expanding`): the columns and trigger are there, so the sample, which runs expand's
    /// transaction, is not taken, and the plan is compiled from the shape expand stored (before,
    /// compiled against the live table, it was refused: column "body" already exists).
    @Test func anInterruptedExpandIsNotSampledAgain() throws {
        let fixture = try EngineFixture("estimate-expanding")
        defer { fixture.close() }
        try prepare(fixture)
        try fixture.run(.expand, "001_rename_note")
        try fixture.exec("UPDATE bellows.plans SET phase = 'planned', expanding = true WHERE id = '001_rename_note'")
        let report = try fixture.engine().estimate(plan: "001")
        #expect(report.backfill.sample == nil)
        #expect(report.backfill.sampleSkipped?.contains("being expanded") == true, "\(report.backfill)")
        #expect(!report.notes.contains { $0.contains("failed") }, "\(report.notes)")
    }

    /// hostile-h 20: a first batch that is slow (wide rows, a costly `up`) ran to the 10 s
    /// statement_timeout under expand's ACCESS EXCLUSIVE lock, and the report did not say the
    /// lock was held. Each batch now runs under the time left of twice `--sample-ms`, and a
    /// failed sample says how long it held the lock.
    @Test func aSlowFirstBatchHoldsTheLockNoLongerThanTheSamplesTime() throws {
        let fixture = try EngineFixture("estimate-slow")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE FUNCTION slow_upper(t text) RETURNS text LANGUAGE sql AS $$ SELECT upper(t) FROM (SELECT pg_sleep(0.005)) AS s $$;
            CREATE TABLE docs (id int PRIMARY KEY, body text);
            INSERT INTO docs SELECT g, 'doc ' || g FROM generate_series(1, 3000) g;
            ANALYZE docs;
            """)
        try fixture.writePlan("001_upper", """
            table: docs
            changes:
              - alter: body
                rename_to: content
                up: slow_upper(body)
                down: lower(content)
            """)
        var options = EstimateOptions()
        options.sampleMilliseconds = 200
        let started = Date()
        let report = try fixture.engine().estimate(plan: "001_upper", options: options)
        let held = try #require(report.backfill.failedSampleHeldMilliseconds, "\(report.backfill)")
        #expect(held < 2500, "held \(held) ms")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(report.backfill.sample == nil)
        #expect(report.backfill.sampleSkipped?.contains("statement_timeout") == true, "\(report.backfill)")
        #expect(report.notes.contains { $0.contains("held ACCESS EXCLUSIVE") }, "\(report.notes)")
        #expect(try fixture.int("SELECT count(*) FROM information_schema.columns WHERE table_name = 'docs'") == 2)
    }

    /// Issue 24: the size the archive will take is part of `estimate` and `render -d`, within
    /// 30 % of the archive contract then fills (`pg_total_relation_size`), on 80,000 rows with a
    /// tenth of the values NULL.
    @Test func theArchiveEstimateIsWithinThirtyPercentOfTheArchiveContractFills() throws {
        let fixture = try EngineFixture("estimate-archive")
        defer { fixture.close() }
        let rows = 80_000
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text, n integer);
            INSERT INTO people SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'user' || g || '@example.com' END, g FROM generate_series(1, \(rows)) g;
            """)
        try fixture.sql.execute("VACUUM ANALYZE people")
        try fixture.writePlan("001_rename_email", """
            table: people
            changes:
              - alter: email
                rename_to: email_address
            """)
        var options = EstimateOptions()
        options.sample = false
        options.record = false
        let estimate = try fixture.engine().estimate(plan: "001", options: options)
        let archive = try #require(estimate.archive)
        #expect(archive.table == "\"bellows_archive\".\"001_rename_email_people\"" && archive.columns == ["email"] && archive.rows == rows, "\(archive)")
        #expect(archive.source == "widths from pg_stats", "\(archive)")
        let expected = try #require(estimate.archiveBytes)

        // render -d says the same size next to contract's statements, from the same statistics.
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo, statisticsOf: [TableName(schema: nil, name: "people")])
        let rendered = try ProjectCheck.rendered(project: fixture.project, plan: "001", phase: .contract, live: live)
        #expect(rendered.archive?.bytes == expected, "\(String(describing: rendered.archive))")
        #expect(rendered.sql.contains("-- expected size: about \(ByteCount.text(expected)) for \(rows) rows (widths from pg_stats)"), "\(rendered.sql)")

        try fixture.forward("001_rename_email", through: .contract)
        let actual = try fixture.int("SELECT pg_total_relation_size('bellows_archive.\"001_rename_email_people\"')")
        let ratio = Double(expected) / Double(actual)
        #expect(ratio > 0.7 && ratio < 1.3, "estimated \(expected) bytes, the archive takes \(actual)")
    }

    /// Without statistics (never analysed) the widths come from `pg_column_size` over a sample,
    /// and say so, near what the statistics give once taken; `archive: false` says the archive
    /// is off and gives no size; a plan that drops nothing has no archive.
    @Test func theArchiveEstimateSaysWhereItsWidthsCameFromAndWhenItIsOff() throws {
        let fixture = try EngineFixture("estimate-archive-sample")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, email text, n integer) WITH (autovacuum_enabled = false);
            INSERT INTO people SELECT g, 'user' || g || '@example.com', g FROM generate_series(1, 20000) g;
            """)
        try fixture.writePlan("001_rename_email", """
            table: people
            changes:
              - alter: email
                rename_to: email_address
            """)
        var options = EstimateOptions()
        options.sample = false
        options.record = false
        let sampled = try #require(try fixture.engine().estimate(plan: "001", options: options).archive)
        // TABLESAMPLE SYSTEM reads a random tenth of the pages: up to 1,000 rows, not always
        // as many (960 in a CI run of 2026-12-04).
        let sampledRows = sampled.source.split(separator: " ").dropFirst(7).first.flatMap { Int($0) } ?? 0
        #expect(sampled.source.hasPrefix("widths from pg_column_size over a sample of ") && (500...1000).contains(sampledRows), "\(sampled)")
        try fixture.sql.execute("ANALYZE people")
        let analysed = try #require(try fixture.engine().estimate(plan: "001", options: options).archive)
        #expect(analysed.source == "widths from pg_stats", "\(analysed)")
        let (a, b) = (Double(try #require(sampled.bytes)), Double(try #require(analysed.bytes)))
        #expect(abs(a - b) / b < 0.1, "sample \(a), statistics \(b)")

        try fixture.writePlan("001_rename_email", """
            table: people
            archive: false
            changes:
              - alter: email
                rename_to: email_address
            """)
        let off = try fixture.engine().estimate(plan: "001", options: options)
        #expect(off.archiveBytes == nil && off.archive?.enabled == false && off.archive?.off == "`archive: false` in the plan", "\(String(describing: off.archive))")
        let text = try ProjectCheck.render(project: fixture.project, plan: "001", phase: .contract,
                                           live: try LiveSchema.read(conninfo: fixture.db.conninfo, statisticsOf: [TableName(schema: nil, name: "people")]))
        #expect(text.contains("-- archive: off (`archive: false` in the plan)"), "\(text)")

        try fixture.writePlan("001_rename_email", """
            table: people
            changes:
              - add: note
                type: text
            """)
        let none = try fixture.engine().estimate(plan: "001", options: options)
        #expect(none.archive == nil && none.archiveBytes == nil)
    }

    /// A `move_columns` plan (plan 008's kind): its backfill is a keyset copy of the moved
    /// columns into the new table. Before, estimate compiled it as a column change with no
    /// changes and said "backfill: none", with no sample, no growth and no expand lock.
    @Test func aMoveColumnsPlanIsEstimatedAsACopyIntoTheNewTable() throws {
        let fixture = try EngineFixture("estimate-move")
        defer { fixture.close() }
        let rows = 20_000
        try fixture.exec("""
            CREATE TABLE profiles (id bigint PRIMARY KEY, bio text, location text, website text, n integer);
            INSERT INTO profiles SELECT g, 'bio of ' || g || repeat('x', 40), 'Lisbon', 'https://example.com/' || g, g FROM generate_series(1, \(rows)) g;
            """)
        try fixture.sql.execute("VACUUM ANALYZE profiles")
        try fixture.writePlan("008_move_profile_metadata", """
            table: profiles
            move_columns:
              to: profile_metadata
              columns: [bio, location, website]
            """)
        try fixture.engine().connect().close()
        let before = try fixture.rows("SELECT count(*), md5(string_agg(p::text, ',' ORDER BY id)) FROM profiles p")

        let report = try fixture.engine { $0.batchSize = nil }.estimate(plan: "008")

        #expect(report.rows.exact == rows)
        #expect(report.backfill.needed && report.backfill.rows == rows, "\(report.backfill)")
        #expect(report.backfill.source == "sample", "\(report.backfill)")
        let sample = try #require(report.backfill.sample)
        #expect(!sample.batches.isEmpty && sample.rows > 0 && sample.rows <= rows, "\(sample)")
        #expect(sample.heapBytes > 0, "the copied rows went into the new table: \(sample)")
        let seconds = try #require(report.backfill.seconds)
        #expect(seconds > 0.001 && seconds < 120, "\(seconds)")
        // The new table's size: more than the moved values' bytes, less than the whole source table.
        let heap = try #require(report.growth.heapBytes)
        #expect(heap > rows * 60 && heap < report.size.heapBytes * 2, "\(report.growth) vs \(report.size)")
        #expect(report.growth.model.contains("profile_metadata") && report.growth.vacuumEveryRows == 0, "\(report.growth)")
        #expect((report.wal.bytes ?? 0) > 0)
        // The move's locks: expand's on the source (its foreign key and trigger), each batch's row
        // locks on the source, contract's ACCESS EXCLUSIVE dropping the moved columns.
        func modes(_ phase: String) -> [String] { report.locks.filter { $0.phase == phase && $0.relation == "\"public\".\"profiles\"" }.map(\.mode) }
        #expect(modes("expand") == ["SHARE ROW EXCLUSIVE"], "\(report.locks)")
        #expect(report.locks.first { $0.phase == "expand" }?.holdMilliseconds != nil)
        #expect(modes("backfill") == ["ROW SHARE"], "\(report.locks)")
        #expect(modes("contract").contains("ACCESS EXCLUSIVE"), "\(report.locks)")
        #expect(report.archive == nil, "a move keeps the values in the new table")
        #expect(report.notes.contains { $0.contains("move_columns") }, "\(report.notes)")

        // Rolled back: no new table, no trigger, the rows as they were, no plan registered.
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname = 'profile_metadata'") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'profiles'::regclass") == 0)
        #expect(try fixture.rows("SELECT count(*), md5(string_agg(p::text, ',' ORDER BY id)) FROM profiles p") == before)
        #expect(try fixture.state("008_move_profile_metadata") == nil)

        // Once expanded, no sample (it runs expand's transaction): the stored move, no duration yet.
        try fixture.run(.expand, "008_move_profile_metadata")
        let expanded = try fixture.engine().estimate(plan: "008")
        #expect(expanded.backfill.needed && expanded.backfill.sample == nil && expanded.backfill.sampleSkipped?.contains("expanded") == true, "\(expanded.backfill)")
    }

    @Test func refusesAMissingTableWithItsLocation() throws {
        let fixture = try EngineFixture("estimate-missing")
        defer { fixture.close() }
        try fixture.writePlan("001_nope", """
            description: a table that is not there
            table: nope
            changes:
              - alter: a
                rename_to: b
            """)
        do {
            _ = try fixture.engine().estimate(plan: "001")
            Issue.record("estimate ran on a missing table")
        } catch BellowsError.planInvalid(let findings) {
            let finding = try #require(findings.first)
            #expect(finding.rule == "plan-unknown-table")
            #expect(finding.line == 2 && finding.column == 8, "\(finding)")
            #expect(finding.message.contains("42P01") && finding.message.contains("hint:"), "\(finding.message)")
        }
    }

    // MARK: pure

    @Test func extrapolatesFromTheBatchesAfterTheFirst() {
        let batches = [EstimateReport.SampleBatch(rows: 1000, milliseconds: 100), .init(rows: 2000, milliseconds: 40), .init(rows: 2000, milliseconds: 60)]
        // The first (cold, planning) batch is left out: 4000 rows in 100 ms.
        #expect(EstimateModel.rowsPerSecond(batches) == 40_000)
        #expect(EstimateModel.rowsPerSecond([.init(rows: 500, milliseconds: 50)]) == 10_000)
        #expect(EstimateModel.rowsPerSecond([]) == nil)
        // 1M rows at 40,000 rows/s in batches of 8,000 (the 200 ms target): 25 s, 125 batches of 3 ms more each;
        // its VACUUM runs go beside the batches and add nothing.
        #expect(EstimateModel.settledBatchSize(batches, settings: BackfillSettings()) == 8000)
        #expect(abs(EstimateModel.backfillSeconds(rows: 1_000_000, rowsPerSecond: 40_000, batchSize: 8000) - 25.375) < 1e-9)
        #expect(EstimateModel.backfillSeconds(rows: 0, rowsPerSecond: 40_000, batchSize: 8000) == 0)
        // The backfill's own interval: a tenth of the table, at least 10,000 rows; the plan's when set.
        #expect(EstimateModel.vacuumEvery(rows: 1_000_000, settings: BackfillSettings()) == 100_000)
        #expect(EstimateModel.vacuumEvery(rows: 10_000, settings: BackfillSettings()) == 10_000)
        var never = BackfillSettings()
        never.vacuumEveryRows = 0
        #expect(EstimateModel.vacuumEvery(rows: 1_000_000, settings: never) == 0)
    }

    @Test func statusComparesTheRunWithTheEstimate() {
        let estimate = EstimateComparison.Recorded(at: "2026-12-03T12:00:00Z", source: "sample", rows: 100_000, seconds: 10, rowsPerSecond: 10_000)
        // Running: 20,000 rows in 4 s of this run (5,000 rows/s, twice the estimated time), 30,000 done with the earlier run.
        let running = EstimateComparison.compare(estimate: estimate, running: .init(rows: 20_000, seconds: 4, done: 30_000), finished: nil)
        #expect(running.backfill == "running" && running.rowsPerSecond == 5000 && running.ratio == 2 && running.etaSeconds == 14)
        let finished = EstimateComparison.compare(estimate: estimate, running: nil, finished: .init(rows: 100_000, seconds: 8))
        #expect(finished.backfill == "finished" && finished.ratio == 0.8 && finished.etaSeconds == nil)
        let none = EstimateComparison.compare(estimate: estimate, running: nil, finished: nil)
        #expect(none.backfill == "not started" && none.ratio == nil && none.rowsPerSecond == nil)
        // A run that did nothing yet has no rate.
        #expect(EstimateComparison.compare(estimate: estimate, running: .init(rows: 0, seconds: 0), finished: nil).ratio == nil)
    }

    @Test func growthCountsOneNewVersionPerRowAndWhatVacuumGivesBack() {
        // 10,000 sampled rows added 1.5 MB (150 B each) to a 1M-row, 120 MB heap (120 B a row).
        let sample = EstimateReport.Sample(batches: [.init(rows: 10_000, milliseconds: 100)], expandMilliseconds: 2, walBytes: 2_000_000,
                                           heapBytes: 1_500_000, indexBytes: 300_000, toastBytes: 0, heldMilliseconds: 110)
        let growth = EstimateModel.growth(rows: 1_000_000, sample: sample, heapBytes: 120_000_000, vacuumEvery: 250_000)
        #expect(growth.heapBytesWithoutVacuum == 150_000_000)
        // The first 250,000 new versions need new space; after that each needs only 30 B more than the old one it replaces.
        #expect(growth.heapBytes == 250_000 * 150 + 750_000 * 30)
        #expect(growth.indexBytes == 30_000_000)
        #expect(EstimateModel.growth(rows: 1_000_000, sample: sample, heapBytes: 120_000_000, vacuumEvery: 0).heapBytes == 150_000_000)
        let wal = EstimateModel.wal(rows: 1_000_000, sample: sample)
        #expect(wal.bytes == 200_000_000 && wal.bytesPerRow == 200)
    }

    @Test func locksOfEachPhaseComeFromItsStatements() throws {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE items (id bigint PRIMARY KEY, note text, n integer);\nCREATE INDEX items_note ON items (note);"])
        let plan = try #require(PlanLoader.load(file: "plans/001_x.yaml", source: """
            table: items
            changes:
              - alter: note
                rename_to: body
            """).plan)
        let table = try #require(catalog.table(TableName(schema: "public", name: "items")))
        let transition = try #require(TransitionCompiler.compile(plan, table: table).transition)
        let locks = EstimateModel.locks(PhaseSQL(transition), timings: .init(expandTransactionMilliseconds: 4, batchMilliseconds: 200, batches: 50))
        func modes(_ phase: String) -> [String] { locks.filter { $0.phase == phase }.map(\.mode) }
        // Expand: its transaction (new column, function, trigger) ACCESS EXCLUSIVE for the measured 4 ms, then the index build.
        #expect(modes("expand") == ["ACCESS EXCLUSIVE", "SHARE UPDATE EXCLUSIVE"], "\(locks)")
        #expect(locks.first { $0.phase == "expand" }?.holdMilliseconds == 4)
        #expect(locks.first { $0.phase == "expand" }?.transaction == true)
        #expect(locks.first { $0.phase == "expand" && $0.mode == "SHARE UPDATE EXCLUSIVE" }?.holdMilliseconds == nil)
        // Backfill: each batch's ROW EXCLUSIVE (and the bound's ACCESS SHARE, weaker, in the same transaction).
        #expect(modes("backfill") == ["ROW EXCLUSIVE"])
        #expect(locks.first { $0.phase == "backfill" }?.holdMilliseconds == 200)
        #expect(modes("verify").allSatisfy { EstimateModel.strength($0) <= EstimateModel.strength("SHARE UPDATE EXCLUSIVE") })
        #expect(modes("contract").first == "ACCESS EXCLUSIVE")
        #expect(locks.first { $0.phase == "contract" }?.holdMilliseconds == 4)
        #expect(modes("rollback").contains("ACCESS EXCLUSIVE") && modes("rollback").first == "SHARE UPDATE EXCLUSIVE", "\(locks.filter { $0.phase == "rollback" })")
        #expect(locks.filter { ["expand", "backfill", "verify"].contains($0.phase) }.allSatisfy { $0.relation == "\"public\".\"items\"" }, "\(locks.map(\.relation))")

        #expect(EstimateModel.lock(of: "LOCK TABLE \"public\".\"t\" IN ACCESS EXCLUSIVE MODE")?.mode == "ACCESS EXCLUSIVE")
        #expect(EstimateModel.lock(of: "LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE")?.mode == "SHARE ROW EXCLUSIVE")
        #expect(EstimateModel.lock(of: "ALTER TABLE t VALIDATE CONSTRAINT c")?.mode == "SHARE UPDATE EXCLUSIVE")
        #expect(EstimateModel.lock(of: "ALTER TABLE t ENABLE ALWAYS TRIGGER x")?.mode == "SHARE ROW EXCLUSIVE")
        #expect(EstimateModel.lock(of: "ALTER TABLE t\n  ADD COLUMN b text,\n  ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES u NOT VALID")?.mode == "ACCESS EXCLUSIVE")
        #expect(EstimateModel.lock(of: "CREATE INDEX CONCURRENTLY i ON t (b)").map { "\($0.mode) \($0.relation)" } == "SHARE UPDATE EXCLUSIVE t")
        #expect(EstimateModel.lock(of: "SELECT count(*) FILTER (WHERE a IS DISTINCT FROM b) AS x\nFROM \"public\".\"t\"").map(\.relation) == "\"public\".\"t\"")
        #expect(EstimateModel.lock(of: "CREATE FUNCTION bellows.f() RETURNS trigger AS $$ $$") == nil)
        #expect(LockHold(phase: "x", mode: "ACCESS EXCLUSIVE", relation: "t", statements: [], transaction: true, hold: "").blocks == "reads and writes")
        #expect(LockHold(phase: "x", mode: "SHARE UPDATE EXCLUSIVE", relation: "t", statements: [], transaction: false, hold: "").blocks == "no reads or writes")
    }

    /// hostile-g 09: a `strategy: views` plan's estimate listed rollback as ACCESS EXCLUSIVE on
    /// the table (its rendered trigger drops, for a trigger it never had) and nothing for
    /// expand. Its expand and rollback lock only the views (and the table ACCESS SHARE while a
    /// view is created); contract's RENAME COLUMN is ACCESS EXCLUSIVE. A table rename likewise.
    @Test func locksOfAViewsPlanAndATableRenameAreTheirViews() throws {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE items (id bigint PRIMARY KEY, note text, n integer);"])
        let table = try #require(catalog.table(TableName(schema: "public", name: "items")))
        func locks(_ source: String) throws -> [String: [String]] {
            let plan = try #require(PlanLoader.load(file: "plans/001_x.yaml", source: source).plan)
            let transition = try #require(TransitionCompiler.compile(plan, table: table).transition)
            return Dictionary(grouping: EstimateModel.locks(PhaseSQL(transition), timings: .init()), by: \.phase)
                .mapValues { $0.map { "\($0.mode) \($0.relation)" } }
        }
        let views = try locks("table: items\nstrategy: views\nchanges:\n  - alter: note\n    rename_to: body\n")
        let old = "\"_bellows_001_x_old\".\"items\"", new = "\"_bellows_001_x_new\".\"items\""
        #expect(views["expand"] == ["ACCESS SHARE \"public\".\"items\""], "\(views)")
        #expect(views["backfill"] == nil && views["verify"] == nil, "\(views)")
        #expect(views["contract"] == ["ACCESS EXCLUSIVE \(old)", "ACCESS EXCLUSIVE \"public\".\"items\""], "\(views)")
        #expect(views["rollback"] == ["ACCESS EXCLUSIVE \(new)", "ACCESS EXCLUSIVE \(old)"], "\(views)")

        let rename = try locks("table: items\nrename_table_to: things\n")
        #expect(rename["expand"] == ["ACCESS SHARE \"public\".\"items\""], "\(rename)")
        #expect(rename["contract"]?.contains("ACCESS EXCLUSIVE \"public\".\"items\"") == true, "\(rename)")
        #expect(rename["rollback"] == ["ACCESS EXCLUSIVE \"public\".\"things\""], "\(rename)")

        // A copy plan without versioned schemas: no line for the schemas rollback drops if they exist.
        let copy = try locks("table: items\nchanges:\n  - alter: note\n    rename_to: body\n")
        #expect(copy["rollback"] == ["ACCESS EXCLUSIVE \"public\".\"items\""], "\(copy)")
        #expect(EstimateModel.lock(of: "ALTER SEQUENCE \"public\".\"s\" RENAME TO \"t\"").map { "\($0.mode) \($0.relation)" } == "ACCESS EXCLUSIVE \"public\".\"s\"")
        #expect(EstimateModel.lock(of: "ALTER SEQUENCE IF EXISTS s OWNED BY t.c").map { "\($0.mode) \($0.relation)" } == "SHARE ROW EXCLUSIVE s")
    }

    /// hostile-g 09's "while there": a `move_columns` plan was estimated as a column plan (no
    /// backfill, a rollback line only). Its locks are now its own statements': expand SHARE ROW
    /// EXCLUSIVE on the source (the trigger), the backfill's batches ROW SHARE (FOR KEY SHARE),
    /// contract ACCESS EXCLUSIVE on both tables, rollback the new table's trigger alone first.
    @Test func locksOfAMovePlanAreItsOwnStatements() throws {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE profiles (id bigint PRIMARY KEY, bio text, x int);"])
        let plan = try #require(PlanLoader.load(file: "plans/010_move.yaml", source: "table: profiles\nmove_columns:\n  to: profile_bio\n  columns: [bio]\n").plan)
        let move = try #require(MoveCompiler.compile(plan, table: catalog.table(plan.table.value), catalog: catalog).move)
        let locks = Dictionary(grouping: EstimateModel.locks(MoveSQL(move), timings: .init()), by: \.phase).mapValues { $0.map { "\($0.mode) \($0.relation)" } }
        let source = "\"public\".\"profiles\"", target = "\"public\".\"profile_bio\""
        #expect(locks["expand"] == ["SHARE ROW EXCLUSIVE \(source)", "SHARE ROW EXCLUSIVE \(target)"], "\(locks)")
        #expect(locks["backfill"] == ["ROW SHARE \(source)"], "\(locks)")
        #expect(locks["contract"] == ["ACCESS EXCLUSIVE \(target)", "ACCESS EXCLUSIVE \(source)"], "\(locks)")
        #expect(locks["rollback"] == ["ACCESS EXCLUSIVE \(target)", "ACCESS EXCLUSIVE \(source)", "ACCESS EXCLUSIVE \(target)"], "\(locks)")
    }

    /// The engine estimates a move plan from its own SQL, with no sample and the backfill needed.
    @Test func aMovePlanIsEstimatedFromItsOwnStatements() throws {
        let fixture = try EngineFixture("estimatemove")
        defer { fixture.close() }
        try fixture.exec("CREATE TABLE profiles (id bigint PRIMARY KEY, bio text, x int); INSERT INTO profiles SELECT g, 'b', g FROM generate_series(1, 50) g; ANALYZE profiles")
        try fixture.writePlan("001_move", "table: profiles\nmove_columns:\n  to: profile_bio\n  columns: [bio]\n")
        var options = EstimateOptions()
        options.record = false
        let report = try fixture.engine().estimate(plan: "001_move", options: options)
        // Sampled since (aMoveColumnsPlanIsEstimatedAsACopyIntoTheNewTable): the copy's batches, rolled back.
        #expect(report.backfill.needed && report.backfill.sample != nil && report.backfill.source == "sample", "\(report.backfill)")
        #expect(report.locks.contains { $0.phase == "expand" && $0.mode == "SHARE ROW EXCLUSIVE" }, "\(report.locks)")
        #expect(report.locks.contains { $0.phase == "contract" && $0.relation == "\"public\".\"profile_bio\"" }, "\(report.locks)")
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname = 'profile_bio'") == 0)
    }
}
