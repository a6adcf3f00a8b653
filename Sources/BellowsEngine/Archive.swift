import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// One archive: a table of `bellows_archive` holding what contract or `migrate rollback
/// --archive` dropped, as `bellows.archives` records it.
public struct ArchiveEntry: Sendable, Codable, Hashable {
    /// The table's name within the `bellows_archive` schema.
    public var archiveTable: String
    /// The plan (contract) or migration (`migrate rollback`) that dropped the data.
    public var owner: String
    /// `contract` or `migrate rollback`.
    public var source: String
    /// The table the data came from (`schema.table`).
    public var table: String
    /// The columns kept; empty when a whole table was kept (`DROP TABLE`).
    public var columns: [String]
    /// The key the rows are kept by (empty for a whole table without a primary key).
    public var keyColumns: [String]
    public var rows: Int?
    public var bytes: Int?
    public var createdBy: String
    /// UTC, ISO 8601.
    public var createdAt: String
    /// When the `archive_retention` the archive was made under (bellows.yaml of the project that
    /// made it, recorded with it) lets `archive purge --expired` remove it (nil: kept until purged by name).
    public var expiresAt: String?
    public var expired: Bool

    enum CodingKeys: String, CodingKey {
        case archiveTable = "archive_table", owner = "plan", source, table, columns, keyColumns = "key_columns", rows, bytes
        case createdBy = "created_by", createdAt = "created_at", expiresAt = "expires_at", expired
    }
}

/// One column `bellows archive restore` brought back.
public struct RestoredColumn: Sendable, Codable, Hashable {
    /// The column as contract dropped it.
    public var column: String
    /// The new column it was restored into, beside the live ones.
    public var into: String
    public var type: String
    /// Rows given their archived value (rows whose archived value is NULL, and rows deleted since, are not counted).
    public var rows: Int
    /// Rows written (inserted or updated) since contract whose key the archive has, left NULL:
    /// the key may be one the archive had for another row (`--by-key` fills them, hostile-h 05).
    public var writtenSince: Int

    public init(column: String, into: String, type: String, rows: Int, writtenSince: Int = 0) {
        self.column = column
        self.into = into
        self.type = type
        self.rows = rows
        self.writtenSince = writtenSince
    }

    enum CodingKeys: String, CodingKey {
        case column, into, type, rows, writtenSince = "written_since"
    }
}

public struct ArchiveRestoreOutcome: Sendable, Codable, Hashable {
    public var archive: ArchiveEntry
    public var restored: [RestoredColumn]
}

extension Engine {
    /// `bellows.yaml`'s `archive:` and `archive_retention:`.
    var archiveSettings: (archive: Bool?, retentionSeconds: Int?) { ProjectConfig.archiveSettings(root: project.root) }

    // MARK: contract's archive

    /// Contract's gate for its archive: the role must be able to create the archive (CREATE on
    /// the database while `bellows_archive` does not exist, else CREATE and USAGE on it), and
    /// no recorded archive may have its name. Checked before anything changes.
    func archiveFailures(_ archive: ArchiveSQL, plan: Plan, connection: Connection) throws -> [GateFailure] {
        guard let row = try connection.query("""
            SELECT to_regnamespace($1) IS NOT NULL AS schema_exists, current_user::text AS role, current_database()::text AS db,
                   CASE WHEN to_regnamespace($1) IS NULL THEN has_database_privilege(current_database(), 'CREATE')
                        ELSE has_schema_privilege($1, 'CREATE') AND has_schema_privilege($1, 'USAGE') END AS may_create,
                   has_schema_privilege('bellows', 'CREATE') AS may_create_function,
                   EXISTS (SELECT 1 FROM bellows.archives WHERE archive_table = $2) AS recorded
            """, [ArchiveSQL.schema, archive.tableName]).first else { return [] }
        var failures: [GateFailure] = []
        let columns = archive.columns.map(\.name).joined(separator: ", ")
        let off = "or set `archive: false` in bellows.yaml (the dropped values are then gone for good)"
        if try !row.bool("may_create") {
            let role = try row.string("role")
            let grant = try row.bool("schema_exists")
                ? "GRANT USAGE, CREATE ON SCHEMA \(ArchiveSQL.schema) TO \(SQLQuote.identifier(role))"
                : "CREATE SCHEMA \(ArchiveSQL.schema) AUTHORIZATION \(SQLQuote.identifier(role)) (as a role that may), or GRANT CREATE ON DATABASE \(SQLQuote.identifier(try row.string("db"))) TO \(SQLQuote.identifier(role))"
            failures.append(GateFailure(
                gate: "archive",
                message: "contract keeps the column(s) it drops (\(columns)) in \(ArchiveSQL.schema).\(archive.tableName), and role \(role) may not create it"
                    + (try row.bool("schema_exists") ? " (no CREATE or USAGE on schema \(ArchiveSQL.schema))" : " (schema \(ArchiveSQL.schema) does not exist and the role has no CREATE on the database)"),
                remedy: "\(grant), \(off)"))
        }
        if try !row.bool("may_create_function") {
            failures.append(GateFailure(
                gate: "archive", message: "contract keeps the column(s) it drops (\(columns)) through a trigger whose function goes in schema bellows, and role \(try row.string("role")) has no CREATE on it",
                remedy: "GRANT CREATE ON SCHEMA bellows TO \(SQLQuote.identifier(try row.string("role"))) (docs/operations.md), \(off)"))
        }
        if try row.bool("recorded") {
            failures.append(GateFailure(
                gate: "archive", message: "\(ArchiveSQL.schema).\(archive.tableName) already holds a recorded archive (`bellows archive list`)",
                remedy: "`bellows archive purge \(plan.id)` once it is no longer needed, \(off)"))
        }
        return failures
    }

    /// Before contract's transaction: the archive table and its trigger, then the batches that
    /// copy every row up to the largest key once the trigger is in place (`ArchiveSQL`).
    func fillArchive(_ plan: Plan, _ archive: ArchiveSQL, connection: Connection) throws -> Int {
        let policy = policy(for: plan)
        try step("prepare the archive of the columns contract drops") {
            try LockSafety.inTransaction(connection, policy: policy, table: archive.transition.quotedTable, report: report) {
                for statement in archive.prepareTable {
                    announce(plan, .contract, statement)
                    try connection.execute(statement.sql)
                }
            }
        }
        try step("install the archive's trigger") {
            try LockSafety.inTransaction(connection, policy: policy, table: archive.transition.quotedTable, report: report) {
                let leftover = try archiveTriggerPresent(archive, connection: connection)
                for statement in archive.prepareTrigger where leftover || !statement.sql.hasPrefix("DROP TRIGGER") {
                    announce(plan, .contract, statement)
                    try connection.execute(statement.sql)
                }
            }
        }
        let keyset = archive.keyset
        announce(plan, .contract, PhaseStatement(.transaction, "one archive batch: its last key", keyset.bound(first: false)))
        announce(plan, .contract, PhaseStatement(.transaction, "one archive batch: its rows", archive.batch(first: false)))
        let copied = try step("copy a batch into the archive") {
            try walkKeyset(keyset, settings: plan.backfill, policy: policy, what: "archive of \(plan.id)",
                           underTextSettings: !archive.keptAsText.isEmpty, connection: connection) { first, parameters in
                try connection.execute(archive.batch(first: first), parameters).affectedRows
            }
        }
        report(.info("archived \(copied.written) row(s) of \(archive.columns.map(\.name).joined(separator: ", ")) into \(archive.qualifiedTable); contract completes it under its lock"))
        return copied.written
    }

    /// After the batches, before contract's lock: `ArchiveSQL.proof` in one read-only snapshot,
    /// with every row (`row_security` off, no statement timeout, as verify's scan). A walk that
    /// ended short or a key read back wrong left rows out of the archive, and contract dropped
    /// their values (hostile-m 03, 05, 10): now it is refused, and the archive abandoned.
    func archiveProofFailures(_ plan: Plan, _ archive: ArchiveSQL, connection: Connection) throws -> [GateFailure] {
        announce(plan, .contract, PhaseStatement(.transaction, "prove the archive holds every row's values (one scan, before the lock)", archive.proof))
        let (missing, differing, sample) = try step("prove the archive holds every row") {
            try readOnly(connection) { () throws(PostgresError) in
                try connection.execute("SET LOCAL statement_timeout = 0")
                try connection.execute("SET LOCAL row_security = off")
                if !archive.keptAsText.isEmpty {
                    // The fixed text settings for this transaction, in one round trip.
                    _ = try connection.query("SELECT " + KeyTextSettings.restoreLocally(from: 1), KeyTextSettings.canonical.map(\.value))
                }
                let row = try connection.query(archive.proof).first
                let missing = (try? row?.int("missing")) ?? 0, differing = (try? row?.int("differing")) ?? 0
                let sample = missing + differing == 0 ? [] : try connection.query(archive.proofSample).compactMap { try? $0.string("key") }
                return (missing, differing, sample)
            }
        }
        guard missing + differing > 0 else { return [] }
        let columns = archive.columns.map(\.name).joined(separator: ", ")
        let keys = archive.key.map(\.name).joined(separator: ", ")
        return [GateFailure(
            gate: "archive",
            message: "the archive \(ArchiveSQL.schema).\(archive.tableName) does not hold every row's \(columns): \(missing) row(s) of the table have no archive row"
                + " and \(differing) have other values; sample (\(keys)): \(sample.joined(separator: ", ")). Nothing was dropped and the archive was removed",
            remedy: "report this as a Bellows bug with the table's definition (its key's type, collation and the session's settings); "
                + "`archive: false` in the plan drops the columns without keeping them")]
    }

    /// The archive's trigger, function and unrecorded table, removed when contract does not
    /// commit after the batches (best effort: a later contract or rollback removes a leftover).
    func abandonArchive(_ archive: ArchiveSQL, connection: Connection) {
        guard connection.isOpen else { return }
        if connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
        _ = try? LockSafety.inTransaction(connection, policy: LockPolicy(lockTimeoutMilliseconds: 2000, statementTimeoutMilliseconds: 30_000, retries: 3),
                                          table: archive.transition.quotedTable, report: report) {
            guard try !archiveRecorded(archive, connection: connection) else { return }
            for statement in archive.abandon { try connection.execute(statement.sql) }
        }
    }

    /// Whether the archive's trigger is on the table: a contract killed during its batches left it.
    func archiveTriggerPresent(_ archive: ArchiveSQL, connection: Connection) throws -> Bool {
        try !connection.query("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname IN ($2, $3)",
                              [archive.transition.quotedTable, archive.triggerName, archive.legacyTriggerName]).isEmpty
    }

    /// Whether the archive was recorded, that is, made by a contract that committed.
    func archiveRecorded(_ archive: ArchiveSQL, connection: Connection) throws -> Bool {
        try !connection.query("SELECT 1 FROM bellows.archives WHERE archive_table = $1", [archive.tableName]).isEmpty
    }

    /// The archive of the columns contract drops, with their types as they are now: a column of
    /// a type of the database's own (an enum, a domain, a composite, an extension's type, or an
    /// array of one) is kept as text, its type schema-qualified (`keptAsText`, hostile-h 13);
    /// the others keep their type (`liveTypes`).
    func archiveOfDroppedColumns(_ transition: Transition, connection: Connection) throws -> ArchiveSQL {
        let names = ArchiveSQL(transition).columns.map(\.name)
        guard !names.isEmpty else { return ArchiveSQL(transition) }
        var keptAsText: [String: String] = [:], liveTypes: [String: String] = [:]
        for row in try connection.query("""
            SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS live,
                   CASE WHEN n.nspname NOT IN ('pg_catalog', 'information_schema') THEN
                        quote_ident(n.nspname) || '.' || quote_ident(b.typname) || CASE WHEN e.oid IS NULL THEN '' ELSE '[]' END END AS own
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
            JOIN pg_type b ON b.oid = coalesce(e.oid, t.oid) JOIN pg_namespace n ON n.oid = b.typnamespace
            WHERE a.attrelid = to_regclass($1) AND a.attname = ANY ($2::text[]) AND a.attnum > 0 AND NOT a.attisdropped
            """, [transition.quotedTable, PostgresArray.literal(names)]) {
            let name = try row.string("name")
            if let own = try row.optionalString("own") { keptAsText[name] = own } else { liveTypes[name] = try row.string("live") }
        }
        var readBackTypes: [String: String] = [:]
        for (name, type) in keptAsText {
            let array = type.hasSuffix("[]")
            if let base = try constrainedDomainBase(array ? String(type.dropLast(2)) : type, connection) {
                readBackTypes[name] = base + (array ? "[]" : "")
            }
        }
        return ArchiveSQL(transition, keptAsText: keptAsText, liveTypes: liveTypes, readBackTypes: readBackTypes)
    }

    /// Inside contract's transaction, under its lock: the archive completed and recorded.
    func completeArchive(_ plan: Plan, _ archive: ArchiveSQL, printedUnder: [String]?, connection: Connection) throws {
        // The schemas names were printed under must still be this role's: one granted or revoked
        // while contract filled the archive or waited for its lock changed what the batches and
        // the trigger printed, and no one path would read every value back (hostile-y 1).
        if let printedUnder {
            let now = try Self.usableSchemas(connection)
            if now != printedUnder {
                throw PostgresError(kind: .client, message: "the schemas of the plan's search path this role can use changed while contract filled the archive "
                                    + "(\(printedUnder.joined(separator: ", ")) at the start, \(now.joined(separator: ", ")) now): "
                                    + "names in its values were printed under different paths; run contract again")
            }
        }
        for statement in archive.complete {
            announce(plan, .contract, statement)
            try connection.execute(statement.sql)
        }
        // With the project's retention (hostile-h 12), the table's oid (06), the columns' types
        // (13), this transaction's id (05) and, for values kept as text, the schemas they were
        // printed under (hostile-q 05, `usableSchemas`).
        try connection.execute("""
            INSERT INTO bellows.archives (archive_table, plan_id, source, table_name, columns, key_columns, created_by,
                                          retention_seconds, table_oid, column_types, contract_xid, search_path)
            VALUES ($1, $2, 'contract', $3, $4::text[], $5::text[], \(StateStore.actorSQL(6)),
                    $7::bigint, to_regclass($8)::oid, $9::text[], pg_current_xact_id()::text::bigint, $10::text[])
            """, [archive.tableName, plan.id, archive.transition.tableName.description, PostgresArray.literal(archive.columns.map(\.name)),
                  PostgresArray.literal(archive.key.map(\.name)), options.actor, archiveSettings.retentionSeconds,
                  archive.transition.quotedTable, PostgresArray.literal(archive.recordedTypes),
                  printedUnder.map { PostgresArray.literal($0) }])
    }

    /// The schemas of the session's search path (the plan's, in contract) that its role can use,
    /// in order, without `pg_catalog` and `pg_temp`: what the archive's batches (this session) and
    /// its trigger (`SECURITY DEFINER`, owned by this role) print names under. A schema the role
    /// may not use is not searched, and a name behind it prints unqualified (hostile-x 1).
    static func usableSchemas(_ connection: Connection) throws -> [String] {
        try connection.query("""
            SELECT s::text AS s FROM unnest(current_schemas(false)) WITH ORDINALITY AS p(s, i)
            WHERE s <> 'pg_catalog' AND s::text NOT LIKE 'pg\\_temp\\_%' ORDER BY i
            """).map { try $0.string("s") }
    }

    /// After the commit: the archive's rows and size, recorded (the archive no longer changes).
    func measureArchive(_ name: String, connection: Connection) -> (rows: Int, bytes: Int)? {
        let qualified = SQLQuote.qualified(schema: ArchiveSQL.schema, name: name)
        guard let row = try? connection.query("""
            UPDATE bellows.archives SET rows = (SELECT count(*) FROM \(qualified)), bytes = pg_total_relation_size(to_regclass($2))
            WHERE archive_table = $1 RETURNING rows, bytes
            """, [name, qualified]).first, let rows = try? row.int("rows"), let bytes = try? row.int("bytes") else { return nil }
        return (rows, bytes)
    }

    // MARK: walking a table in batches

    /// Before each batch of a walk other than the backfill's own (contract's archive copy, a
    /// restore, a move's copy), the backfill's manners: wait while a streaming replica lags more
    /// than `max_replica_lag_ms`, and let the pacer see the server's other sessions (gentle
    /// batches and rests while the application is active, more rest while it waits behind the
    /// walk). Without this, contract's archive copy ran at full speed beside the application:
    /// a write to a row whose key an unfinished 200 ms batch had just archived waited for that
    /// batch (the trigger's `ON CONFLICT` waits for it), up to 170 ms in `scripts/bench`.
    func paceWalk(_ pacer: inout BackfillPacer, settings: BackfillSettings, what: String, connection: Connection) throws {
        if let limit = settings.maxReplicaLagMilliseconds {
            var waitStarted: Date?
            while !options.shouldStop(), let lag = try replicaLagMilliseconds(connection), lag > Double(limit) {
                if waitStarted == nil {
                    waitStarted = Date()
                    report(.info(String(format: "%@: waiting for the replicas to replay: replica lag %.0f ms > %d ms (backfill.max_replica_lag_ms)",
                                        what, lag, limit)))
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            if let since = waitStarted {
                report(.info(String(format: "%@: the replicas caught up after %.1f s; going on", what, Date().timeIntervalSince(since))))
            }
        }
        _ = try observeServer(&pacer, what: what, reportChange: true, connection: connection)
    }

    /// The server's other sessions, shown to the pacer before a batch (nil when the pace is
    /// fixed and nothing is asked); a change of pace is reported when `reportChange`.
    func observeServer(_ pacer: inout BackfillPacer, what: String, reportChange: Bool, excluding: [Int32] = [],
                       connection: Connection) throws -> ServerActivity? {
        guard pacer.watchesSessions else { return nil }
        let activity = try serverActivity(connection, excluding: excluding)
        if pacer.observe(activity, at: Date()), reportChange {
            report(.info("\(what): pace \(pacer.description); \(activity.activeSessions) other active sessions, \(activity.strainDescription)"))
        }
        return activity
    }

    /// Walks `keyset` from its first key up to its largest key now (none: nothing to walk) in batches, each in a transaction
    /// of its own sized by the backfill's pacer (`BackfillPacer`, the plan's `backfill:`
    /// settings, `--batch-size`): `batch` gets whether it is the first and the parameters of
    /// `keyset.batchRange` and returns the rows it wrote. Transient errors (lock timeout,
    /// deadlock) retry the batch, whose work was rolled back.
    /// `underTextSettings`: the batches' own statements run under `KeysetSQL.textSettings`
    /// too (writing or reading values the archive keeps as text), not the session's.
    func walkKeyset(_ keyset: KeysetSQL, settings: BackfillSettings, policy: LockPolicy, what: String,
                    underTextSettings: Bool = false,
                    connection: Connection, _ batch: (_ first: Bool, _ parameters: [(any PostgresBindable)?]) throws -> Int) throws
        -> (scanned: Int, written: Int) {
        var pacer = BackfillPacer(settings: settings, pacing: options.pacing, fixedBatchSize: options.batchSize,
                                  pauseMilliseconds: options.pauseMilliseconds)
        var cursor: [String]?
        var scanned = 0
        var written = 0
        // Keys are read as text under settings that read back as the same key, the walk's end
        // included; each batch's own statements run under the session's (KeyTextSettings, hostile-m 03).
        let sessionValues = try KeyTextSettings.enter(connection)
        defer { try? KeyTextSettings.leave(connection, sessionValues) }
        guard let upperBound = try connection.query(keyset.upperBound).first?.stringArray("max_key") else { return (0, 0) }
        let upper: [(any PostgresBindable)?] = upperBound.map { $0 }
        while true {
            if options.shouldStop() { throw StopRequested() }
            try paceWalk(&pacer, settings: settings, what: what, connection: connection)
            if options.shouldStop() { throw StopRequested() }
            let first = cursor == nil
            let after: [(any PostgresBindable)?] = (cursor ?? []).map { $0 }
            let size = pacer.nextBatchSize
            let started = Date()
            var attempt = 0
            var result: (scanned: Int, written: Int, last: [String])?
            while true {
                attempt += 1
                do {
                    result = try connection.withTransaction {
                        try connection.execute("SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
                                               ["\(policy.lockTimeoutMilliseconds)ms", "\(settings.statementTimeoutMilliseconds)ms"])
                        guard let row = try connection.query(keyset.bound(first: first), after + [size] + upper).first else { return nil }
                        let last = try row.stringArray("last_key")
                        // A key whose text reads back as the cursor would be read forever (hostile-m 02).
                        if !first && PostgresArray.sameKey(last, cursor) {
                            throw KeyTextSettings.walkCannotPass(last)
                        }
                        if !underTextSettings {
                            _ = try connection.query("SELECT " + KeyTextSettings.restoreLocally(from: 1), sessionValues.map { $0 })
                        }
                        let n = try batch(first, after + last.map { $0 })
                        return (try row.int("scanned"), n, last)
                    }
                    break
                } catch let error as PostgresError where (error.sqlState?.isTransient ?? false) && attempt <= settings.retries && connection.isOpen
                            && !options.shouldStop() {
                    let delay = policy.delay(beforeRetry: attempt)
                    report(.info("\(what): a batch failed (\(error.sqlState?.rawValue ?? "")): \(error.message); retrying in \(delay) ms"))
                    Thread.sleep(forTimeInterval: Double(delay) / 1000)
                }
            }
            guard let result else { break }
            cursor = result.last
            scanned += result.scanned
            written += result.written
            let elapsed = Date().timeIntervalSince(started) * 1000
            pacer.batchDone(rows: result.scanned, milliseconds: elapsed)
            let rest = pacer.restMilliseconds(afterBatchOf: elapsed, rows: result.scanned)
            if rest > 0 { Thread.sleep(forTimeInterval: rest / 1000) }
        }
        return (scanned, written)
    }

    // MARK: bellows archive list | restore | purge

    static let archiveColumns = """
        archive_table, plan_id, source, table_name, columns, key_columns, rows, bytes, created_by,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
        to_char((created_at + make_interval(secs => retention_seconds::float8)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_at,
        coalesce(created_at + make_interval(secs => retention_seconds::float8) <= now(), false) AS expired
        """

    static func archiveEntry(_ row: Row) throws -> ArchiveEntry {
        ArchiveEntry(archiveTable: try row.string("archive_table"), owner: try row.string("plan_id"), source: try row.string("source"),
                     table: try row.string("table_name"), columns: try row.stringArray("columns"), keyColumns: try row.stringArray("key_columns"),
                     rows: try row.optionalInt("rows"), bytes: try row.optionalInt("bytes"),
                     createdBy: try row.string("created_by"), createdAt: try row.string("created_at"),
                     expiresAt: try row.optionalString("expires_at"), expired: try row.bool("expired"))
    }

    /// The archives recorded, each expiring by the retention recorded with it (the project's
    /// that made it), never by the reader's bellows.yaml (hostile-h 12).
    func readArchives(_ connection: Connection, where condition: String = "", _ parameters: [(any PostgresBindable)?] = []) throws -> [ArchiveEntry] {
        try connection.query("SELECT \(Self.archiveColumns) FROM bellows.archives \(condition) ORDER BY created_at, archive_table",
                             parameters).map(Self.archiveEntry)
    }

    /// Every recorded archive (reads only: creates nothing).
    public func archives() throws -> [ArchiveEntry] {
        let (connection, hasState) = try connectForReading()
        defer { connection.close() }
        do {
            guard hasState, try connection.query("SELECT to_regclass('bellows.archives') IS NOT NULL AS present").first?.bool("present") == true else { return [] }
            return try readArchives(connection)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// The archives of `reference` (a plan id, its number, or a migration's name).
    func archives(of reference: String, connection: Connection) throws -> [ArchiveEntry] {
        let owners = try connection.query("SELECT DISTINCT plan_id FROM bellows.archives").map { try $0.string("plan_id") }
        guard let owner = Self.match(reference, in: owners) else {
            throw BellowsError.usage("no archive of \"\(reference)\" (`bellows archive list` shows every archive)")
        }
        return try readArchives(connection, where: "WHERE plan_id = $1", [owner])
    }

    /// `bellows archive restore PLAN [--column C] [--as NAME] [--by-key]`: each archived column of
    /// the plan's contract brought back beside the live ones, as a new column `<column>_restored`
    /// (or `--as`), filled from the archive by key in batches. It never writes a column that
    /// existed before: a target name already taken is refused, except a column an unfinished
    /// restore of the same archived column made (its comment says so), which it fills on.
    ///
    /// - The table is the one the archive came from, by oid, whatever its name now; a table that
    ///   took its name since is refused (hostile-h 06).
    /// - A row written (inserted or updated) since contract is left NULL and counted, unless
    ///   `byKey`: its key may be one the archive had for another row (hostile-h 05). Rows are
    ///   told apart by `age(xmin)` against contract's transaction, recorded with the archive.
    /// - A column kept as text (a type of the database's own) is cast back to its type while it
    ///   exists, else restored as text (hostile-h 13); a domain that does not allow NULL is
    ///   restored as its base type (rows without an archived value stay NULL, hostile-h 18).
    /// - Every new column is added in one transaction before any is filled: a restore that
    ///   cannot add one adds none, and one that stops while filling is resumed by running it
    ///   again (hostile-h 18).
    public func restoreArchive(plan reference: String, column: String? = nil, into name: String? = nil, byKey: Bool = false) throws -> ArchiveRestoreOutcome {
        let connection = try connect()
        defer { connection.close() }
        do {
            guard let entry = try archives(of: reference, connection: connection).first(where: { $0.source == "contract" }) else {
                throw BellowsError.usage("\"\(reference)\" has no archive of a contract to restore (`bellows archive list`)")
            }
            if let column, !entry.columns.contains(column) {
                throw BellowsError.usage("the archive of \(entry.owner) holds \(entry.columns.joined(separator: ", ")), not \(column)")
            }
            let columns = column.map { [$0] } ?? entry.columns
            if name != nil && columns.count > 1 {
                throw BellowsError.usage("--as names one column: give --column too (the archive holds \(entry.columns.joined(separator: ", ")))")
            }
            let archiveName = "\(ArchiveSQL.schema).\(entry.archiveTable)"
            let archiveTable = SQLQuote.qualified(schema: ArchiveSQL.schema, name: entry.archiveTable)
            guard let record = try connection.query("""
                SELECT a.table_oid IS NOT NULL AS has_oid, n.nspname::text AS schema, c.relname::text AS name, a.column_types,
                       coalesce(a.search_path, p.search_path) AS search_path,
                       (a.contract_xid % 4294967296)::text AS contract_xid,
                       pg_snapshot_xmax(pg_current_snapshot())::text::bigint - a.contract_xid AS distance
                FROM bellows.archives a LEFT JOIN pg_class c ON c.oid = a.table_oid AND c.relkind IN ('r', 'p')
                LEFT JOIN bellows.plans p ON p.id = a.plan_id AND a.source = 'contract'
                LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.archive_table = $1
                """, [entry.archiveTable]).first else {
                throw BellowsError.usage("the archive \(archiveName) is no longer recorded (`bellows archive list`)")
            }
            // Restore reads the archive: a role that may not (the table's owner, when another
            // role's contract made it) is refused here, naming the GRANTs (hostile-h 24).
            if let refusal = try Self.archiveAccessRefusal(entry.archiveTable, dropping: false, connection: connection) {
                throw BellowsError.usage(refusal)
            }
            // The table the archive came from, by oid (hostile-h 06); by name for an archive made before oids were recorded.
            let table: String
            let tableLabel: String
            if try record.bool("has_oid") {
                guard let schema = try record.optionalString("schema"), let relname = try record.optionalString("name") else {
                    let taken = try connection.query("SELECT to_regclass($1) IS NOT NULL AS e", [TableName(parsing: entry.table)?.quoted ?? entry.table]).first?.bool("e") == true
                    throw BellowsError.usage("the table \(entry.table) the archive came from no longer exists"
                                             + (taken ? " (\(entry.table) now is another table, made since: restore never writes into it)" : "")
                                             + ": the archive \(archiveName) can be read directly")
                }
                table = SQLQuote.qualified(schema: schema, name: relname)
                tableLabel = "\(schema).\(relname)"
                if tableLabel != entry.table { report(.info("\(entry.table) is \(tableLabel) now (renamed since contract): restoring into it")) }
            } else {
                guard let tableName = TableName(parsing: entry.table) else { throw BellowsError.usage("cannot read the table name \(entry.table)") }
                table = tableName.quoted
                tableLabel = entry.table
                guard try connection.query("SELECT to_regclass($1) IS NOT NULL AS e", [table]).first?.bool("e") == true else {
                    throw BellowsError.usage("table \(entry.table) no longer exists: the archive \(archiveName) can be read directly")
                }
            }
            // Rows written since contract: age(xmin) below that of contract's transaction (hostile-h 05).
            let distance = try record.optionalInt("distance")
            let contractXid = try record.optionalString("contract_xid")
            let judged = !byKey && contractXid != nil && (distance ?? 0) > 0 && (distance ?? 0) < 2_000_000_000
            if !byKey && !judged {
                throw BellowsError.usage("cannot tell rows written since contract from those \(archiveName) has "
                                         + (contractXid == nil ? "(an archive made before contract's transaction was recorded)"
                                                               : "(contract's transaction is too far back, or the database was restored from a dump)")
                                         + ": --by-key fills every row whose key the archive has, also one inserted since with a key it had")
            }
            let archivedColumns = try connection.query("""
                SELECT attname::text AS name, format_type(atttypid, atttypmod) AS type, \(CatalogReader.domainBase("atttypid")) AS base_type
                FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
                """, [archiveTable])
            let types = Dictionary(try archivedColumns.map { (try $0.string("name"), try $0.string("type")) }, uniquingKeysWith: { a, _ in a })
            let baseTypes = Dictionary(try archivedColumns.map { (try $0.string("name"), try $0.optionalString("base_type")) }, uniquingKeysWith: { a, _ in a })
            // What the archive lost since contract (a DROP TYPE … CASCADE reaches it, hostile-h 13).
            for column in columns where types[column] == nil {
                throw BellowsError.usage("\(archiveName) no longer has the column \(column) its record lists (dropped from it since contract, "
                                         + "such as by DROP TYPE … CASCADE): there is nothing to restore for it")
            }
            let recordedTypes = try record.stringArray("column_types")
            let comments = Dictionary(try connection.query("""
                SELECT attname::text AS name, col_description(attrelid, attnum) AS comment FROM pg_attribute
                WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
                """, [table]).map { (try $0.string("name"), try $0.optionalString("comment")) }, uniquingKeysWith: { a, _ in a })
            /// `fromText`: kept as text in the archive, read back into `type`; `fromFixedText`: that
            /// text was written under `ArchiveSQL.textSettings`, and is read back under them (an
            /// archive made before: under the session's).
            /// `cast`: the function that reads its archived text back under the search path it
            /// was written under, when its type holds a name (nil: a cast in restore's statement).
            struct Target { var column: String; var into: String; var type: String; var resume: Bool; var fromText = false; var fromFixedText = false; var cast: String? = nil }
            var targets: [Target] = []
            let archiveComment = try connection.query("SELECT obj_description(to_regclass($1), 'pg_class') AS c", [archiveTable]).first?.optionalString("c")
            for column in columns {
                let into = name ?? TransitionNames.fitted("\(column)_restored")
                let archived = types[column] ?? "text"
                var type = archived
                if let index = entry.columns.firstIndex(of: column), index < recordedTypes.count, recordedTypes[index] != archived {
                    let recorded = recordedTypes[index]
                    if try connection.query("SELECT to_regtype($1) IS NOT NULL AS e", [recorded]).first?.bool("e") == true {
                        type = recorded
                    } else {
                        report(.info("\(column)'s type \(recorded) no longer exists: restored as \(archived), as the archive keeps it"))
                    }
                }
                if let base = try constrainedDomainBase(type, connection) {
                    report(.info("\(column)'s type \(type) is a domain with constraints (NOT NULL would refuse the rows without an archived value; "
                                 + "adding a column of it rewrites the table, and every row would look written since contract): restored as its base type \(base)"))
                    type = base
                }
                let mark = Self.unfinishedRestoreComment(archive: entry.archiveTable, column: column)
                let exists = comments.keys.contains(into)
                let resume = exists && (comments[into] ?? nil) == mark
                if exists && !resume {
                    throw BellowsError.usage("\(tableLabel) already has a column \(into): restore never writes an existing column; "
                                             + "drop or rename it, or restore into another name with --column \(column) --as NAME")
                }
                let fromText = archived == "text" && type != archived
                targets.append(Target(column: column, into: into, type: type, resume: resume, fromText: fromText,
                                      fromFixedText: fromText && archiveComment?.hasPrefix(ArchiveSQL.textSettingsComment) == true))
            }
            let key = entry.keyColumns.map { ColumnInfo(name: $0, type: types[$0] ?? "text", notNull: true, baseType: baseTypes[$0] ?? nil) }
            let keyset = KeysetSQL(table: archiveTable, key: key)
            let settings = BackfillSettings()
            let policy = LockPolicy(lockTimeoutMilliseconds: options.lockTimeoutMilliseconds ?? settings.lockTimeoutMilliseconds,
                                    statementTimeoutMilliseconds: options.statementTimeoutMilliseconds, retries: settings.retries)
            // A value kept as text that holds a name (a `regclass` in a domain or a composite) was
            // printed under the plan's search path, unqualified where that path found it: it is read
            // back under that path, by a function of this session, and restore's own statements
            // stay under the restorer's path (hostile-q 05, hostile-v 1).
            let namesPath = try record.raw("search_path").map { PostgresArray.parse($0).compactMap { $0 } }
            var pathChecked = false
            for index in targets.indices where targets[index].fromText {
                guard let nameType = try Self.heldNameType(targets[index].type, connection) else { continue }
                guard let namesPath else {
                    report(.info("\(targets[index].column)'s values hold names (\(nameType)) archived before Bellows recorded the search path they were "
                                 + "written under: they are read under this session's search_path"))
                    continue
                }
                let path = PhaseSQL.searchPathSQL(namesPath)
                let unusable = pathChecked ? [] : try connection.query("""
                    SELECT s FROM unnest($1::text[]) AS s
                    WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = s AND has_schema_privilege(n.oid, 'USAGE'))
                    """, [PostgresArray.literal(namesPath)]).map { try $0.string("s") }
                pathChecked = true
                if !unusable.isEmpty {
                    throw BellowsError.usage("\(targets[index].column)'s archived values hold names (\(nameType)), written as the search path \(path) found them at contract, "
                                             + "and schema \(unusable.joined(separator: ", ")) no longer exists or this role may not use it: "
                                             + "read there, a name would find another object or none. Restore as a role with USAGE on it, "
                                             + "or read \(archiveName) directly; nothing was changed")
                }
                let function = "bellows_restore_\(index)"
                do {
                    try connection.withTransaction {
                        _ = try connection.query("SELECT set_config('search_path', $1, true)", [path])
                        try connection.execute(ArchiveSQL.restoreCast(name: function, type: targets[index].type))
                    }
                } catch let error as PostgresError where error.sqlState == SQLState("42501") {
                    let database = try connection.query("SELECT current_database()::text AS d").first?.string("d") ?? ""
                    throw BellowsError.usage("\(targets[index].column)'s archived values hold names (\(nameType)), which restore reads back under the search path "
                                             + "they were written under with a function of its own session, in pg_temp, and this role may not create temporary "
                                             + "objects (\(error.message)): GRANT TEMPORARY ON DATABASE \(SQLQuote.identifier(database)) TO the role, "
                                             + "or read \(archiveName) directly; nothing was changed")
                }
                targets[index].cast = "pg_temp.\(SQLQuote.identifier(function))"
            }
            // Every new column first, in one transaction, each marked unfinished until filled.
            let adding = targets.filter { !$0.resume }
            if !adding.isEmpty {
                try LockSafety.inTransaction(connection, policy: policy, table: table, report: report) {
                    for target in adding {
                        report(.info("restoring \(tableLabel).\(target.column) into \(target.into) (\(target.type)) from \(archiveName)"))
                        // DEFAULT NULL: a domain's own default filled every row, which restore
                        // fills only where NULL, so nothing came back (hostile-q 04).
                        try connection.execute("ALTER TABLE \(table) ADD COLUMN \(SQLQuote.identifier(target.into)) \(target.type) DEFAULT NULL")
                        try connection.execute("COMMENT ON COLUMN \(table).\(SQLQuote.identifier(target.into)) IS "
                                               + SQLQuote.literal(Self.unfinishedRestoreComment(archive: entry.archiveTable, column: target.column)))
                    }
                }
            }
            for target in targets where target.resume {
                report(.info("resuming the unfinished restore of \(tableLabel).\(target.column) into \(target.into) (\(target.type)) from \(archiveName)"))
            }
            let join = entry.keyColumns.map { "bellows_t.\(SQLQuote.identifier($0)) = bellows_a.\(SQLQuote.identifier($0))" }.joined(separator: " AND ")
            let before: (any PostgresBindable)? = contractXid
            var restored: [RestoredColumn] = []
            for target in targets {
                let into = SQLQuote.identifier(target.into)
                let value = "bellows_a.\(SQLQuote.identifier(target.column))"
                let rows = try walkKeyset(keyset, settings: settings, policy: policy, what: "restore of \(target.column)",
                                      underTextSettings: target.fromFixedText, connection: connection) { first, parameters in
                    // The batch's parameters: the cursor's key (not in the first), the last key; then contract's transaction.
                    let unchangedSince = judged ? " AND " + Self.notWrittenSince(xid: parameters.count + 1, archive: parameters.count + 2) : ""
                    let sql = """
                        UPDATE \(table) AS bellows_t SET \(into) = \(target.cast.map { "\($0)(\(value))" } ?? "\(value)::\(target.type)")
                        FROM \(archiveTable) AS bellows_a
                        WHERE \(join) AND \(keyset.batchRange(first: first, qualifier: "bellows_a."))
                          AND \(value) IS NOT NULL AND bellows_t.\(into) IS NULL\(unchangedSince)
                        """
                    let n = try connection.execute(sql, judged ? parameters + [before, entry.archiveTable] : parameters).affectedRows
                    // This batch's own writes are not writes since contract (a second restore, a resumed one).
                    if n > 0 {
                        try connection.execute("""
                            UPDATE bellows.archives SET restore_xids = restore_xids || pg_current_xact_id()::text::bigint WHERE archive_table = $1
                            """, [entry.archiveTable])
                    }
                    return n
                }.written
                // The closing counts read the whole table: no role's statement_timeout cuts them
                // (hostile-m 09: it did, after every batch had committed, and the rerun, which
                // found nothing left to fill, said "0 row(s)"). A resumed restore reports every
                // row it holds, not only this run's.
                var writtenSince = 0
                var total = rows
                if judged || target.resume {
                    let counts = try readOnly(connection) { () throws(PostgresError) in
                        try connection.execute("SET LOCAL statement_timeout = 0")
                        let since = judged ? "count(*) FILTER (WHERE \(value) IS NOT NULL AND bellows_t.\(into) IS NULL AND NOT \(Self.notWrittenSince(xid: 1, archive: 2)))" : "0"
                        return try connection.query("""
                            SELECT \(since)::bigint AS since, count(bellows_t.\(into))::bigint AS restored
                            FROM \(table) AS bellows_t JOIN \(archiveTable) AS bellows_a ON \(join)
                            """, judged ? [before, entry.archiveTable] : []).first
                    }
                    writtenSince = try counts?.int("since") ?? 0
                    if target.resume { total = try counts?.int("restored") ?? rows }
                }
                try LockSafety.inTransaction(connection, policy: policy, table: table, report: report) {
                    try connection.execute("COMMENT ON COLUMN \(table).\(into) IS NULL")
                    // Its type's own default again for rows inserted from now on (hostile-r 05).
                    try connection.execute("ALTER TABLE \(table) ALTER COLUMN \(into) DROP DEFAULT")
                }
                restored.append(RestoredColumn(column: target.column, into: target.into, type: target.type, rows: total, writtenSince: writtenSince))
            }
            try StateStore.record(connection, plan: entry.owner, actor: options.actor, command: "archive restore", from: nil, to: nil,
                                  outcome: "succeeded", details: [
                                      "archive": .string(entry.archiveTable), "table": .string(tableLabel), "by_key": .bool(byKey),
                                      "restored": .array(restored.map { .object(["column": .string($0.column), "into": .string($0.into), "rows": .int($0.rows),
                                                                                 "written_since": .int($0.writtenSince)]) }),
                                  ])
            return ArchiveRestoreOutcome(archive: entry, restored: restored)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        } catch is StopRequested {
            throw BellowsError.interrupted(plan: reference, rowsDone: 0, resume: "`bellows archive restore \(reference)` again: it fills on the column(s) it made")
        }
    }

    /// A row of the table (`bellows_t`) not written since contract: its `xmin` as old as
    /// contract's transaction (parameter `xid`, its 32 bits), or one of restore's own batches
    /// (the archive's `restore_xids`; parameter `archive`, its name).
    static func notWrittenSince(xid: Int, archive: Int) -> String {
        "(age(bellows_t.xmin) >= age($\(xid)::xid) OR bellows_t.xmin::text::bigint IN "
            + "(SELECT x % 4294967296 FROM bellows.archives, unnest(restore_xids) AS x WHERE archive_table = $\(archive)))"
    }

    /// The comment a restore's new column carries until it is filled: a rerun fills on a column
    /// with it instead of refusing it as an existing column (hostile-h 18).
    static func unfinishedRestoreComment(archive: String, column: String) -> String {
        "bellows archive restore of \(ArchiveSQL.schema).\(archive).\(column): unfinished (run it again to finish)"
    }

    /// The first of `ArchiveSQL.nameTypes` that a value of `type` can hold (through a domain's
    /// base, an array's element, a composite's attribute, a range's subtype), or nil.
    static func heldNameType(_ type: String, _ connection: Connection) throws -> String? {
        try connection.query("""
            WITH RECURSIVE part(oid, depth) AS (
                SELECT to_regtype($1)::oid, 0
                UNION
                SELECT x.child, p.depth + 1 FROM part p JOIN pg_type t ON t.oid = p.oid,
                    LATERAL (SELECT t.typbasetype UNION ALL SELECT t.typelem
                             UNION ALL SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                             UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid
                             UNION ALL SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = t.oid) AS x(child)
                WHERE x.child <> 0 AND p.depth < 32)
            SELECT t.typname::text AS name FROM part p JOIN pg_type t ON t.oid = p.oid
            WHERE t.typnamespace = 'pg_catalog'::regnamespace AND t.typname::text = ANY($2::text[])
            ORDER BY p.depth LIMIT 1
            """, [type, PostgresArray.literal(ArchiveSQL.nameTypes)]).first?.string("name")
    }

    /// The base type of `type` when it is a domain (or a domain over one) with a constraint:
    /// NOT NULL (the restored column's rows without an archived value stay NULL), or a CHECK
    /// (`ADD COLUMN` of such a domain rewrites the table to check it, and every row's new
    /// version then looked written since contract: restore filled nothing, hostile-p 06).
    /// A base type of the database's own comes back schema-qualified: restore reads values into
    /// it under the path they were written under, and a name found under the restorer's would
    /// be another type there (hostile-w 1).
    func constrainedDomainBase(_ type: String, _ connection: Connection) throws -> String? {
        guard let row = try connection.query("""
            WITH RECURSIVE chain AS (
                SELECT t.oid, t.typtype, t.typnotnull, t.typbasetype, t.typtypmod, 0 AS depth FROM pg_type t WHERE t.oid = to_regtype($1)
                UNION ALL
                SELECT t.oid, t.typtype, t.typnotnull, t.typbasetype, t.typtypmod, c.depth + 1
                FROM chain c JOIN pg_type t ON t.oid = c.typbasetype WHERE c.typtype = 'd' AND c.depth < 32)
            SELECT coalesce(bool_or(typtype = 'd' AND (typnotnull OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contypid = chain.oid))), false) AS constrained,
                   (SELECT CASE WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN format_type(c.typbasetype, c.typtypmod)
                                ELSE quote_ident(n.nspname) || '.' || quote_ident(b.typname) || CASE WHEN e.oid IS NULL THEN '' ELSE '[]' END END
                    FROM chain c JOIN pg_type t ON t.oid = c.typbasetype
                    LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
                    JOIN pg_type b ON b.oid = coalesce(e.oid, t.oid) JOIN pg_namespace n ON n.oid = b.typnamespace
                    WHERE c.typtype = 'd' ORDER BY c.depth DESC LIMIT 1) AS base
            FROM chain
            """, [type]).first, try row.bool("constrained") else { return nil }
        return try row.optionalString("base")
    }

    /// The plans and migrations this project has (its plan and migration files): whose archives
    /// `archive purge` may drop without `--force`.
    var archiveOwnersOfThisProject: Set<String> {
        Set(project.loadPlans().plans.map(\.id)).union(project.migrationFiles().map(\.name))
    }

    /// What `archive purge` would drop (changes nothing): the archives of `reference` (a plan,
    /// its number, or a migration), or with `expiredOnly` those past the retention recorded
    /// with them (the project's that made them, hostile-h 12), or both. Only archives of this
    /// project's plans and migrations unless `force`: an archive of a plan the project does not
    /// have is refused by name and skipped by `--expired`.
    public func archivesToPurge(plan reference: String?, expiredOnly: Bool, force: Bool = false) throws -> [ArchiveEntry] {
        let connection = try connect()
        defer { connection.close() }
        do {
            return try archivesToPurge(plan: reference, expiredOnly: expiredOnly, force: force, connection: connection)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    func archivesToPurge(plan reference: String?, expiredOnly: Bool, force: Bool, connection: Connection) throws -> [ArchiveEntry] {
        guard reference != nil || expiredOnly else {
            throw BellowsError.usage("name the plan whose archives to purge, or give --expired (past the archive_retention each archive was made under)")
        }
        let known = archiveOwnersOfThisProject
        var entries = try reference.map { try archives(of: $0, connection: connection) } ?? readArchives(connection)
        if let owner = entries.first?.owner, reference != nil, !force, !known.contains(owner) {
            throw BellowsError.usage("the archives of \(owner) were made by a plan or migration this project does not have "
                                     + "(another project's on the same database?): give --force to purge them anyway")
        }
        if expiredOnly { entries = entries.filter(\.expired) }
        if !force { entries = entries.filter { known.contains($0.owner) } }
        // Purge drops each archive: a role that may not is refused before any is dropped (hostile-h 24).
        let refusals = try entries.compactMap { try Self.archiveAccessRefusal($0.archiveTable, dropping: true, connection: connection) }
        if !refusals.isEmpty { throw BellowsError.usage(refusals.joined(separator: "\n")) }
        return entries
    }

    /// Why the connection's role may not read (`restore`) or drop (`purge`) the archive table
    /// `name` of schema `bellows_archive`, naming the role and what to grant; nil when it may,
    /// or when the table is gone (the caller says so). Read from `pg_catalog` by name, which
    /// needs no privilege: `to_regclass` of a table in a schema the role has no USAGE on fails
    /// 42501 (hostile-h 24: the table's owner restoring an archive another role's contract made).
    static func archiveAccessRefusal(_ name: String, dropping: Bool, connection: Connection) throws -> String? {
        guard let row = try connection.query("""
            SELECT current_user::text AS role, pg_get_userbyid(c.relowner)::text AS owner,
                   has_schema_privilege(n.oid, 'USAGE') AS usage, has_table_privilege(c.oid, 'SELECT') AS readable,
                   pg_has_role(c.relowner, 'USAGE') OR pg_has_role(n.nspowner, 'USAGE') AS may_drop
            FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
            WHERE n.nspname = $1 AND c.relname = $2
            """, [ArchiveSQL.schema, name]).first else { return nil }
        let role = try row.string("role")
        let grantee = SQLQuote.identifier(role)
        let owner = try row.string("owner")
        let table = SQLQuote.qualified(schema: ArchiveSQL.schema, name: name)
        let usage = try row.bool("usage")
        let mayDrop = try row.bool("may_drop")
        let readable = try row.bool("readable")
        var lacks: [String] = usage ? [] : ["USAGE on schema \(ArchiveSQL.schema)"]
        var grants: [String] = usage ? [] : ["GRANT USAGE ON SCHEMA \(ArchiveSQL.schema) TO \(grantee)"]
        if dropping {
            if !mayDrop {
                lacks.append("ownership of the table (it is \(owner)'s)")
                grants.append("GRANT \(SQLQuote.identifier(owner)) TO \(grantee)")
            }
            guard !grants.isEmpty else { return nil }
            return "role \(role) may not drop the archive \(table) (purge drops it; it lacks \(lacks.joined(separator: " and "))); nothing was purged. "
                + "Run the purge as \(owner) or a superuser, or grant it (as a superuser): \(grants.joined(separator: "; "))"
        }
        if !readable {
            lacks.append("SELECT on the table")
            grants.append("GRANT SELECT ON \(table) TO \(grantee)")
        }
        guard !grants.isEmpty else { return nil }
        return "role \(role) may not read the archive \(table), which restore fills the new column(s) from (it lacks \(lacks.joined(separator: " and "))); "
            + "nothing was changed. Grant it (as a superuser, or the owners of schema \(ArchiveSQL.schema) and of the archive, \(owner)): \(grants.joined(separator: "; ")); "
            + "or run the restore as \(owner)"
    }

    /// `bellows archive purge PLAN` (that plan's or migration's archives) or `--expired` (those
    /// past the retention recorded with them), or both (that one's, if expired): each archive
    /// table dropped with its record and an event. Nothing else ever removes an archive. Only
    /// this project's unless `force` (``archivesToPurge(plan:expiredOnly:force:)``);
    /// confirmation is the caller's business.
    public func purgeArchives(plan reference: String?, expiredOnly: Bool, force: Bool = false) throws -> [ArchiveEntry] {
        let connection = try connect()
        defer { connection.close() }
        do {
            let entries = try archivesToPurge(plan: reference, expiredOnly: expiredOnly, force: force, connection: connection)
            for entry in entries {
                try connection.withTransaction {
                    try connection.execute("DROP TABLE IF EXISTS \(SQLQuote.qualified(schema: ArchiveSQL.schema, name: entry.archiveTable))")
                    try connection.execute("DELETE FROM bellows.archives WHERE archive_table = $1", [entry.archiveTable])
                    try StateStore.record(connection, plan: entry.owner, actor: options.actor, command: "archive purge", from: nil, to: nil,
                                          outcome: "succeeded", details: [
                                              "archive": .string(entry.archiveTable), "table": .string(entry.table),
                                              "columns": .array(entry.columns.map(JSONValue.string)), "rows": entry.rows.map { .int($0) } ?? .null,
                                              "expired": .bool(entry.expired),
                                          ])
                }
                report(.info("purged \(ArchiveSQL.schema).\(entry.archiveTable) (\(entry.owner), \(entry.rows.map { "\($0) rows" } ?? "rows unknown"))"))
            }
            return entries
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }
}

/// Reads what sizing an archive takes (`TableStatistics`, for `ArchiveSQL.size`): the table's
/// rows and its columns' average widths, for `bellows estimate` and `render -d`. Reads only.
enum ArchiveSizing {
    /// Rows of the `pg_column_size` sample taken for the columns without statistics.
    static let sampleRows = 1000

    /// `table` (quoted, resolved by the search path); nil when it does not exist. `columns`:
    /// only these (nil: every column); `rows`: the rows already counted (else `count(*)` of a
    /// small table, the planner's `reltuples` of a large one). The widths are
    /// `pg_stats.avg_width × (1 − null_frac)`; columns without statistics (never analysed) are
    /// measured with `pg_column_size` over a sample of up to 1,000 rows (`TABLESAMPLE SYSTEM`),
    /// when the role may read the table.
    static func statistics(_ connection: Connection, table: String, columns wanted: [String]? = nil,
                           rows known: (rows: Int, counted: Bool)? = nil) throws -> TableStatistics? {
        guard let about = try connection.query("""
            SELECT c.reltuples::bigint AS estimated, pg_relation_size(c.oid) AS heap, has_table_privilege(c.oid, 'SELECT') AS readable,
                   array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, [table]).first else { return nil }
        let readable = try about.bool("readable")
        let estimated = try about.int("estimated")
        var rows = known ?? (max(0, estimated), false)
        if known == nil, readable, estimated < EstimateModel.exactCountBelow, try about.int("heap") < 256 << 20,
           let counted = try connection.query("SELECT count(*) AS n FROM \(table)").first?.int("n") {
            rows = (counted, true)
        }
        let present = try about.stringArray("columns")
        let columns = wanted.map { names in names.filter { present.contains($0) } } ?? present
        var widths: [String: ColumnWidth] = [:]
        for row in try connection.query("""
            SELECT DISTINCT ON (s.attname) s.attname::text AS name, s.avg_width::float8 * (1 - s.null_frac) AS width
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
            WHERE c.oid = to_regclass($1) AND s.attname = ANY($2::text[])
            ORDER BY s.attname, s.inherited DESC
            """, [table, PostgresArray.literal(columns)]) {
            widths[try row.string("name")] = ColumnWidth(bytes: try row.double("width"), source: .statistics)
        }
        let unmeasured = columns.filter { widths[$0] == nil }
        var sampled = 0
        if !unmeasured.isEmpty, readable, rows.rows > 0 {
            let averages = unmeasured.enumerated().map { "avg(coalesce(pg_column_size(s.\(SQLQuote.identifier($0.element))), 0))::float8 AS w\($0.offset)" }
            let list = unmeasured.map(SQLQuote.identifier).joined(separator: ", ")
            // A share of the pages that holds about twice the sample (SYSTEM reads whole pages); all of a small table.
            let percent = min(100, max(0.01, 100 * Double(2 * sampleRows) / Double(max(1, rows.rows))))
            func measure(_ from: String, _ parameters: [(any PostgresBindable)?]) throws -> Row? {
                try connection.query("SELECT count(*) AS n, \(averages.joined(separator: ", ")) FROM (SELECT \(list) FROM \(from) LIMIT \(sampleRows)) AS s",
                                     parameters).first
            }
            var sample = try measure("\(table) TABLESAMPLE SYSTEM ($1::float4)", [percent])
            if try (sample?.int("n") ?? 0) == 0 { sample = try measure(table, []) }
            if let sample, try sample.int("n") > 0 {
                sampled = try sample.int("n")
                for (offset, name) in unmeasured.enumerated() {
                    widths[name] = ColumnWidth(bytes: try sample.double("w\(offset)"), source: .sample)
                }
            }
        }
        return TableStatistics(rows: rows.rows, rowsCounted: rows.counted, widths: widths, sampleRows: sampled)
    }
}
