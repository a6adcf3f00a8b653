import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// What the application wrote, in commit order per row: writes to one row are serialised by
/// a striped lock held around the statement, so the order recorded is the order committed.
final class WriteLedger: @unchecked Sendable {
    private let lock = NSLock()
    private let stripes = (0..<64).map { _ in NSLock() }
    private var expected: [Int: String] = [:]
    private var live: [Int] = []
    private var position: [Int: Int] = [:]
    private(set) var deleted: Set<Int> = []
    private var failures: [String] = []
    private var counts: [String: Int] = [:]
    /// Every write that landed, in order: its kind and row.
    private var history: [(kind: String, id: Int)] = []

    /// `reserved` rows keep their initial value and are never written (the test locks one).
    init(initial: [Int: String], reserved: ClosedRange<Int>? = nil) {
        expected = initial
        for id in initial.keys.sorted() where !(reserved?.contains(id) ?? false) { position[id] = live.count; live.append(id) }
    }

    /// Runs `body` holding the row's stripe, so no other writer of this process touches the row meanwhile.
    func withRow<T>(_ id: Int, _ body: () throws -> T) rethrows -> T {
        let stripe = stripes[id % stripes.count]
        stripe.lock(); defer { stripe.unlock() }
        return try body()
    }

    func randomLiveID() -> Int? {
        lock.lock(); defer { lock.unlock() }
        return live.randomElement()
    }

    func isLive(_ id: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return position[id] != nil
    }

    func wrote(_ id: Int, _ value: String, kind: String) {
        lock.lock(); defer { lock.unlock() }
        expected[id] = value
        if position[id] == nil { position[id] = live.count; live.append(id) }
        counts[kind, default: 0] += 1
        history.append((kind, id))
    }

    func removed(_ id: Int) {
        lock.lock(); defer { lock.unlock() }
        guard let index = position[id] else { return }
        let last = live[live.count - 1]
        live[index] = last
        position[last] = index
        live.removeLast()
        position[id] = nil
        expected[id] = nil
        deleted.insert(id)
        counts["delete", default: 0] += 1
        history.append(("delete", id))
    }

    func fail(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        failures.append(message)
    }

    /// How many writes have landed so far.
    var landed: Int {
        lock.lock(); defer { lock.unlock() }
        return history.count
    }

    /// The writes that landed after the first `count`.
    func writes(after count: Int) -> [(kind: String, id: Int)] {
        lock.lock(); defer { lock.unlock() }
        return Array(history[count...])
    }

    /// Waits until every kind in `kinds` has landed at least once after the first `count`
    /// writes (and `also`, if given, holds for those writes).
    func waitFor(_ kinds: [String], after count: Int, also: ([(kind: String, id: Int)]) -> Bool = { _ in true }) -> Bool {
        eventually(60) {
            let since = writes(after: count)
            return Set(kinds).isSubset(of: Set(since.map(\.kind))) && also(since)
        }
    }

    var snapshot: (expected: [Int: String], deleted: Set<Int>, failures: [String], counts: [String: Int]) {
        lock.lock(); defer { lock.unlock() }
        return (expected, deleted, failures, counts)
    }
}

/// One version of the application: which column it writes and how a value looks in it.
struct AppVersion: Sendable {
    var name: String
    var column: String
    /// The value to bind for write number `n` of writer `writer`, and what it reads as after contract.
    var value: @Sendable (_ writer: Int, _ n: Int) -> (bind: String, final: String)
}

/// A writer thread: inserts and updates through one version's column, or deletes.
final class AppWriter: @unchecked Sendable {
    enum Role { case writer(AppVersion), deleter }

    let stop = Shared(false)
    private var worker: Worker?

    init(role: Role, number: Int, conninfo: String, table: String, ledger: WriteLedger) {
        worker = Worker("writer-\(number)") { [stop] in
            let connection: Connection
            do { connection = try Connection(conninfo) } catch {
                ledger.fail("writer \(number) could not connect: \(error)")
                return
            }
            defer { connection.close() }
            var n = 0
            var nextID = 10_000_000 * (number + 1)
            while !stop.current {
                n += 1
                do {
                    switch role {
                    case .writer(let version):
                        let value = version.value(number, n)
                        if n % 3 == 0 {
                            nextID += 1
                            let id = nextID
                            try ledger.withRow(id) {
                                try connection.execute("INSERT INTO \(table) (id, \(version.column), note) VALUES ($1, $2, $3)",
                                                       [id, value.bind, version.name])
                                ledger.wrote(id, value.final, kind: "\(version.name) insert")
                            }
                        } else if let id = ledger.randomLiveID() {
                            try ledger.withRow(id) {
                                let result = try connection.execute("UPDATE \(table) SET \(version.column) = $2 WHERE id = $1", [id, value.bind])
                                if result.affectedRows == 1 {
                                    ledger.wrote(id, value.final, kind: "\(version.name) update")
                                } else if ledger.isLive(id) {
                                    ledger.fail("update of live row \(id) by \(version.name) matched \(result.affectedRows) rows")
                                }
                            }
                        }
                    case .deleter:
                        if n % 4 == 0, let id = ledger.randomLiveID() {
                            try ledger.withRow(id) {
                                let result = try connection.execute("DELETE FROM \(table) WHERE id = $1", [id])
                                if result.affectedRows == 1 {
                                    ledger.removed(id)
                                } else if ledger.isLive(id) {
                                    ledger.fail("delete of live row \(id) matched \(result.affectedRows) rows")
                                }
                            }
                        }
                    }
                } catch {
                    ledger.fail("writer \(number): \(error)")
                }
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
    }

    func finish() {
        stop.update { $0 = true }
        worker?.join()
    }
}

/// The application keeps writing through every phase — old code until verify, new code from
/// expand through contract, a deleter throughout — and not one write is lost or fails.
@Suite(needsDatabase)
struct ConcurrentWriterTests {
    struct Scenario {
        var table: String
        var createTable: String
        var initialValue: (Int) -> (sql: String, final: String)
        var plan: String
        var old: AppVersion
        var new: AppVersion
        /// After contract: the key and the final column as text.
        var finalQuery: String
        /// Before contract: rows whose old column disagrees with the new one (must be 0).
        var disagreement: String
    }

    /// The row the test locks to hold the backfill in the middle of the table, and the rows
    /// around it that the writers leave alone (the batch that waits for it lies inside them,
    /// whatever the writers inserted or deleted before it).
    static let heldKey = 1500
    static let reserved = 1400...1600

    func run(_ scenario: Scenario) throws {
        let fixture = try EngineFixture("writers")
        defer { fixture.close() }
        let rowCount = 3000
        try fixture.exec(scenario.createTable)
        try fixture.exec("INSERT INTO \(scenario.table) (id, \(scenario.old.column)) SELECT g, "
                         + scenario.initialValue(0).sql + " FROM generate_series(1, \(rowCount)) AS g")
        let initial = Dictionary(uniqueKeysWithValues: (1...rowCount).map { ($0, scenario.initialValue($0).final) })
        let ledger = WriteLedger(initial: initial, reserved: Self.reserved)
        let id = "001_writers"
        try fixture.writePlan(id, scenario.plan)
        let conninfo = fixture.db.conninfo
        let configure: @Sendable (inout EngineOptions) -> Void = { $0.batchSize = 100; $0.pauseMilliseconds = 5; $0.lockTimeoutMilliseconds = 120_000 }
        let old = (insert: "\(scenario.old.name) insert", update: "\(scenario.old.name) update")
        let new = (insert: "\(scenario.new.name) insert", update: "\(scenario.new.name) update")

        let oldWriters = (0..<2).map { AppWriter(role: .writer(scenario.old), number: $0, conninfo: conninfo, table: scenario.table, ledger: ledger) }
        let deleter = AppWriter(role: .deleter, number: 9, conninfo: conninfo, table: scenario.table, ledger: ledger)
        #expect(ledger.waitFor([old.insert, old.update, "delete"], after: 0), "the old application never wrote")
        try fixture.run(.expand, id, configure)
        // New code is deployed once its column exists.
        let newWriters = (2..<4).map { AppWriter(role: .writer(scenario.new), number: $0, conninfo: conninfo, table: scenario.table, ledger: ledger) }
        #expect(ledger.waitFor([new.insert, new.update], after: ledger.landed), "the new application never wrote")

        // The backfill runs until its batch reaches the held row and waits there, with its cursor
        // moved and not finished: every kind of write lands meanwhile, on rows it has filled and
        // on rows it has yet to fill.
        let locker = try fixture.db.connect()
        defer { locker.close() }
        try locker.execute("BEGIN")
        _ = try locker.query("SELECT 1 FROM \(scenario.table) WHERE id = $1 FOR UPDATE", [Self.heldKey])
        let backfillResult = Shared<Result<PhaseOutcome, any Error>?>(nil)
        let engine = fixture.engine(configure)
        let backfillWorker = Worker("backfill") {
            let result = Result<PhaseOutcome, any Error> { try engine.run(.backfill, plan: id) }
            backfillResult.update { $0 = result }
        }
        let held = try eventually(60) {
            try backfillResult.current != nil || !fixture.rows(BackfillResumeTests.updateWaitingForTheTest, [Int(locker.backendPID)]).isEmpty
        }
        #expect(held && backfillResult.current == nil, "the backfill never waited at the held row: \(String(describing: backfillResult.current))")
        let cursorKey = try #require(try fixture.state(id)?.backfillCursor?.first.flatMap { Int($0) }, "no cursor saved before the held row")
        #expect(cursorKey < Self.heldKey)
        let before = ledger.landed
        let landed = ledger.waitFor([old.insert, old.update, new.insert, new.update, "delete"], after: before) { writes in
            [old.update, new.update].allSatisfy { kind in
                writes.contains { $0.kind == kind && $0.id < cursorKey } && writes.contains { $0.kind == kind && $0.id > Self.reserved.upperBound && $0.id < 10_000_000 }
            }
        }
        #expect(landed, "not every kind of write landed while the backfill was half-way: \(ledger.writes(after: before).count) writes")
        let phase = try fixture.state(id)?.phase
        #expect(backfillResult.current == nil && phase == .expanded, "the backfill finished before the writes landed")
        try locker.execute("ROLLBACK")
        backfillWorker.join()
        let backfill = try #require(try backfillResult.current?.get())

        let afterBackfill = ledger.landed
        #expect(ledger.waitFor([old.update, new.update], after: afterBackfill))
        try fixture.run(.verify, id, configure)
        // The old version is retired before contract drops its column.
        for writer in oldWriters { writer.finish() }
        #expect(try fixture.int(scenario.disagreement) == 0, "old and new columns disagree before contract")
        try fixture.run(.contract, id, configure)
        #expect(ledger.waitFor([new.insert, new.update, "delete"], after: ledger.landed), "the new application stopped writing after contract")
        for writer in newWriters { writer.finish() }
        deleter.finish()

        let written = ledger.snapshot
        #expect(written.failures.isEmpty, "application statements failed: \(written.failures.prefix(10))")
        for kind in ["\(scenario.old.name) insert", "\(scenario.old.name) update", "\(scenario.new.name) insert", "\(scenario.new.name) update", "delete"] {
            #expect((written.counts[kind] ?? 0) > 0, "no \(kind) happened: \(written.counts)")
        }
        #expect(backfill.details["rows_updated"] != nil)
        let actual = try fixture.rows(scenario.finalQuery)
        var seen: [Int: String?] = [:]
        for row in actual {
            if let key = (row.first ?? nil).flatMap({ Int($0) }) { seen[key] = row.count > 1 ? row[1] : nil }
        }
        let missing = written.expected.keys.filter { seen[$0] == nil }.sorted()
        let resurrected = written.deleted.filter { seen[$0] != nil }.sorted()
        let wrong = written.expected.compactMap { id, value -> String? in
            guard let got = seen[id], got != value else { return nil }
            return "\(id): \(got ?? "NULL") instead of \(value)"
        }.sorted()
        #expect(missing.isEmpty, "rows lost: \(missing.prefix(10)) of \(missing.count)")
        #expect(resurrected.isEmpty, "deleted rows present: \(resurrected.prefix(10))")
        #expect(wrong.isEmpty, "\(wrong.count) rows do not hold their last write: \(wrong.prefix(10))")
        #expect(actual.count == written.expected.count)
        #expect(try fixture.state(id)?.phase == .contracted)
    }

    @Test func renameUnderConcurrentWriters() throws {
        try run(Scenario(
            table: "accounts",
            createTable: "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, note text)",
            initialValue: { id in ("'user' || g || '@example.com'", "user\(id)@example.com") },
            plan: """
                table: accounts
                changes:
                  - alter: email
                    rename_to: email_address
                    not_null: true
                    unique: true
                """,
            old: AppVersion(name: "old", column: "email") { writer, n in
                let value = "old-\(writer)-\(n)@example.com"
                return (value, value)
            },
            new: AppVersion(name: "new", column: "email_address") { writer, n in
                let value = "new-\(writer)-\(n)@example.com"
                return (value, value)
            },
            finalQuery: "SELECT id, email_address FROM accounts",
            disagreement: "SELECT count(*) FROM accounts WHERE email IS DISTINCT FROM email_address OR email_address IS NULL"))
    }

    static func money(_ cents: Int) -> String { String(format: "%d.%02d", cents / 100, cents % 100) }

    @Test func typeChangeUnderConcurrentWriters() throws {
        try run(Scenario(
            table: "ledger",
            createTable: "CREATE TABLE ledger (id bigint PRIMARY KEY, amount_cents integer NOT NULL, note text)",
            initialValue: { id in ("g * 3", ConcurrentWriterTests.money(id * 3)) },
            plan: """
                table: ledger
                changes:
                  - alter: amount_cents
                    rename_to: amount
                    type: numeric(12,2)
                    up: "amount_cents / 100.0"
                    down: "(amount * 100)::integer"
                    not_null: true
                """,
            old: AppVersion(name: "old", column: "amount_cents") { writer, n in
                let cents = writer * 100_000 + n * 7
                return (String(cents), ConcurrentWriterTests.money(cents))
            },
            new: AppVersion(name: "new", column: "amount") { writer, n in
                let cents = writer * 100_000 + n * 11
                return (ConcurrentWriterTests.money(cents), ConcurrentWriterTests.money(cents))
            },
            finalQuery: "SELECT id, amount::text FROM ledger",
            disagreement: "SELECT count(*) FROM ledger WHERE amount IS DISTINCT FROM amount_cents / 100.0 OR amount_cents IS DISTINCT FROM (amount * 100)::integer"))
    }
}
