import BellowsPlan
import Foundation
import PGClient

/// A plan's row in `bellows.plans`.
public struct PlanState: Sendable, Codable, Hashable {
    public var id: String
    public var checksum: String
    public var table: String
    public var phase: Phase
    /// The checksum of the plan file when it was expanded; contract refuses if the file changed since.
    public var expandChecksum: String?
    /// Set while expand is between its transaction and its concurrent index builds.
    public var expanding: Bool
    public var touchedColumns: [String]
    public var backfillCursor: [String]?
    public var backfillRows: Int
    public var backfillDone: Bool
    public var verifiedAt: Date?
    public var updatedAt: Date?
    /// The dual-write trigger's catalog row as verify saw it (`oid:xmin:tgenabled`): contract
    /// refuses when it changed since (a DISABLE/ENABLE rewrites the row).
    public var verifiedTrigger: String? = nil
    /// The schemas the expanding session resolved names in; every phase evaluates the plan's
    /// expressions under `pg_catalog`, these, then `pg_temp` (nil: expanded before it was kept).
    public var searchPath: [String]? = nil
    /// How expand added NOT NULL (`NotNullShape`; nil: not expanded, or expanded before it was
    /// kept, which means a CHECK).
    public var notNullShape: String? = nil
    /// The plan file's exact text when it was expanded, and the path it was read from: rollback
    /// and the later phases work from it whatever the file says now (nil: expanded before it was kept).
    public var planText: String? = nil
    public var planPath: String? = nil
    /// The declared foreign keys contract replaced NOT VALID under its lock whose `VALIDATE`,
    /// after its commit, has not finished yet (hostile-d 19): `contract` on the contracted plan
    /// runs it. Empty when none is owed.
    public var owedValidations: [String] = []
    /// The backfill's upper bound, the largest key when it started (`PhaseSQL.backfillUpperBound`),
    /// kept with the cursor so a resumed backfill stops at the same key; nil before it starts.
    public var backfillBound: [String]? = nil
}

/// One entry of the append-only audit log.
public struct PlanEvent: Sendable, Codable, Hashable {
    public var id: Int
    public var planID: String
    public var actor: String
    public var command: String
    public var fromPhase: String?
    public var toPhase: String?
    public var outcome: String
    public var details: String
    public var at: String
}

/// The state Bellows keeps in the target database, schema `bellows`: plans and their phase,
/// the append-only event log, gate approvals and the migration ledger.
public enum StateStore {
    static let schemaVersion = 1

    /// Whether the database has Bellows' state at all (read commands create nothing).
    public static func exists(_ connection: Connection) throws -> Bool {
        try connection.query("SELECT to_regclass('bellows.plans') IS NOT NULL AS present").first?.bool("present") == true
    }

    /// Who an event is recorded for: the actor given, or the database's session user when none is.
    static func actorSQL(_ parameter: Int) -> String { "coalesce(nullif($\(parameter), ''), session_user::text)" }

    /// The publications that send Bellows' own tables to subscribers — `FOR ALL TABLES`, `FOR
    /// TABLES IN SCHEMA bellows` or `bellows_archive`, or one of their tables by name — each as
    /// "name (FOR ALL TABLES)". A subscriber without these tables stops applying at the first
    /// row Bellows writes (hostile-h 23).
    public static func publicationsSendingState(_ connection: Connection) throws -> [String] {
        try connection.query("""
            SELECT p.pubname || CASE WHEN p.puballtables THEN ' (FOR ALL TABLES)' ELSE ' (Bellows'' schemas or tables)' END AS publication
            FROM pg_publication p
            WHERE (p.pubinsert OR p.pubupdate OR p.pubdelete OR p.pubtruncate)
              AND (p.puballtables
                   OR EXISTS (SELECT FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid
                              WHERE pn.pnpubid = p.oid AND n.nspname IN ('bellows', 'bellows_archive'))
                   OR EXISTS (SELECT FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE pr.prpubid = p.oid AND n.nspname IN ('bellows', 'bellows_archive')))
            ORDER BY p.pubname
            """).map { try $0.string("publication") }
    }

    /// Refuses to write Bellows' state while a publication would send it to subscribers,
    /// unless the project says its subscribers have the tables (`publish_state: true`).
    public static func refuseIfPublished(_ connection: Connection, project: Project) throws {
        let publications = try publicationsSendingState(connection)
        guard !publications.isEmpty, !ProjectConfig.publishState(root: project.root) else { return }
        throw BellowsError.usage("""
            refused: publication \(publications.joined(separator: ", ")) would send Bellows' own tables (bellows.migrations, bellows.plans, \
            bellows.events, and the archives in bellows_archive) to its subscribers, whose apply stops at the first row Bellows writes \
            ("logical replication target relation \"bellows.…\" does not exist"); nothing was written.
              → publish the application's schemas only (CREATE PUBLICATION … FOR TABLES IN SCHEMA public, …; PostgreSQL has no EXCEPT before 19), \
            or give each subscriber Bellows' tables (docs/operations.md, "Logical replication") and set publish_state: true in \(ProjectConfig.fileName)
            """)
    }

    /// Creates the schema and tables if they are missing. Safe to run concurrently.
    public static func ensure(_ connection: Connection) throws {
        let exists = try connection.query("SELECT to_regclass('bellows.events') IS NOT NULL AND to_regclass('bellows.approvals') IS NOT NULL AND to_regclass('bellows.migrations') IS NOT NULL AND to_regclass('bellows.migration_progress') IS NOT NULL AND to_regclass('bellows.controls') IS NOT NULL AND to_regclass('bellows.archives') IS NOT NULL AND (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('bellows.plans') AND attname IN ('search_path', 'referenced_columns', 'not_null_shape', 'plan_text', 'plan_path', 'owed_validations', 'backfill_bound', 'backfill_started_at', 'backfill_rows_at_start', 'pinned_settings') AND NOT attisdropped) = 10 AND (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('bellows.archives') AND attname IN ('retention_seconds', 'table_oid', 'column_types', 'contract_xid', 'restore_xids', 'search_path') AND NOT attisdropped) = 6 AS ready")
        if try exists.first?.bool("ready") == true { return }
        try connection.withTransaction {
            try connection.execute("SELECT pg_advisory_xact_lock(hashtext('bellows'), hashtext('bellows:schema'))")
            try connection.executeScript(schemaSQL)
        }
    }

    static let schemaSQL = """
    SET LOCAL client_min_messages = warning;
    CREATE SCHEMA IF NOT EXISTS bellows;
    CREATE TABLE IF NOT EXISTS bellows.plans (
        id               text PRIMARY KEY,
        checksum         text NOT NULL,
        table_name       text NOT NULL,
        phase            text NOT NULL DEFAULT 'planned'
                         CHECK (phase IN ('planned', 'expanded', 'backfilled', 'verified', 'contracted', 'rolled_back')),
        expand_checksum  text,
        expanding        boolean NOT NULL DEFAULT false,
        touched_columns  text[] NOT NULL DEFAULT '{}',
        backfill_cursor  text[],
        backfill_rows    bigint NOT NULL DEFAULT 0,
        backfill_done    boolean NOT NULL DEFAULT false,
        verified_at      timestamptz,
        table_info       text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS bellows.events (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan_id     text NOT NULL,
        actor       text NOT NULL,
        command     text NOT NULL,
        from_phase  text,
        to_phase    text,
        outcome     text NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'failed', 'interrupted', 'approved')),
        details     jsonb NOT NULL DEFAULT '{}',
        at          timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX IF NOT EXISTS events_plan_id_idx ON bellows.events (plan_id, id);
    CREATE OR REPLACE FUNCTION bellows.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
      RAISE EXCEPTION 'bellows.events is append-only' USING HINT = 'the audit trail keeps every event';
    END
    $f$;
    DROP TRIGGER IF EXISTS events_append_only ON bellows.events;
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON bellows.events
        FOR EACH ROW EXECUTE FUNCTION bellows.events_append_only();
    CREATE TABLE IF NOT EXISTS bellows.approvals (
        plan_id     text NOT NULL,
        gate        text NOT NULL,
        checksum    text NOT NULL,
        actor       text NOT NULL,
        at          timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (plan_id, gate, checksum)
    );
    CREATE TABLE IF NOT EXISTS bellows.migrations (
        name         text PRIMARY KEY,
        checksum     text NOT NULL,
        applied_by   text NOT NULL,
        applied_at   timestamptz NOT NULL DEFAULT now(),
        duration_ms  bigint NOT NULL,
        transactional boolean NOT NULL DEFAULT true
    );
    -- The migration runner (MigrationRunner): the file's header description, and the
    -- statements of a non-transactional file applied so far (a re-run resumes after them).
    ALTER TABLE bellows.migrations ADD COLUMN IF NOT EXISTS description text;
    -- Kept by verify for contract (the trigger's catalog row) and by expand for every phase
    -- (the schemas names in the plan's expressions resolve in).
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS verified_trigger text;
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS search_path text[];
    -- The table's columns the plan's expressions read (expand), for other plans' conflict check.
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS referenced_columns text[];
    -- How expand added NOT NULL (check, or PostgreSQL 18's not_null): later phases, also on a
    -- server upgraded meanwhile, finish the shape expand started.
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS not_null_shape text;
    -- The plan file's text and path as expanded (rollback and the later phases use it).
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS plan_text text;
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS plan_path text;
    -- The declared foreign keys whose VALIDATE after contract's commit is still owed.
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS owed_validations text[];
    -- The backfill's upper bound (the largest key when it started), kept with its cursor.
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS backfill_bound text[];
    -- When the running (or last) backfill run started, and the rows updated before it: its rate
    -- for `status`, compared with the plan's estimate (docs/estimate.md).
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS backfill_started_at timestamptz;
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS backfill_rows_at_start bigint;
    -- The settings the dual-write function keeps (`name=value`), the expanding session's: the
    -- function compares a writer's with them, every later phase takes them (PhaseSQL.pinnedSettings).
    ALTER TABLE bellows.plans ADD COLUMN IF NOT EXISTS pinned_settings text[];
    CREATE TABLE IF NOT EXISTS bellows.migration_progress (
        name            text NOT NULL,
        checksum        text NOT NULL,
        statement_index integer NOT NULL,
        statement_line  integer NOT NULL,
        duration_ms     bigint NOT NULL,
        applied_by      text NOT NULL,
        completed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (name, statement_index)
    );
    -- Live control of a plan's backfill (bellows pause / resume / throttle), read by the
    -- running backfill between batches; it outlives the process (BackfillControl).
    CREATE TABLE IF NOT EXISTS bellows.controls (
        plan_id              text PRIMARY KEY,
        paused               boolean NOT NULL DEFAULT false,
        max_rows_per_second  integer CHECK (max_rows_per_second > 0),
        batch_size           integer CHECK (batch_size > 0),
        actor                text NOT NULL,
        changed_at           timestamptz NOT NULL DEFAULT now()
    );
    -- What contract and `migrate rollback --archive` kept of what they dropped (schema
    -- bellows_archive, ArchiveSQL): one row per archive table, removed by `bellows archive purge`.
    CREATE TABLE IF NOT EXISTS bellows.archives (
        archive_table  text PRIMARY KEY,
        plan_id        text NOT NULL,
        source         text NOT NULL CHECK (source IN ('contract', 'migrate rollback')),
        table_name     text NOT NULL,
        columns        text[] NOT NULL,
        key_columns    text[] NOT NULL,
        rows           bigint,
        bytes          bigint,
        created_by     text NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now()
    );
    -- The archive_retention of the project that made the archive, in seconds (NULL: none):
    -- `archive purge --expired` judges each archive by its own (hostile-h 12).
    ALTER TABLE bellows.archives ADD COLUMN IF NOT EXISTS retention_seconds bigint;
    -- The table the archive came from, whatever its name now (hostile-h 06).
    ALTER TABLE bellows.archives ADD COLUMN IF NOT EXISTS table_oid oid;
    -- Each kept column's type as it was on the table, in `columns` order: a column of a type
    -- of the database's own (enum, domain, composite…) is kept as text, so that the type can be
    -- dropped, and cast back at restore (hostile-h 13).
    ALTER TABLE bellows.archives ADD COLUMN IF NOT EXISTS column_types text[];
    -- The transaction of contract that completed the archive (pg_current_xact_id): restore
    -- tells rows written since from rows it archived (hostile-h 05).
    ALTER TABLE bellows.archives ADD COLUMN IF NOT EXISTS contract_xid bigint;
    -- The transactions of restore's own batches: a row restore wrote is not a row written since contract.
    ALTER TABLE bellows.archives ADD COLUMN IF NOT EXISTS restore_xids bigint[] NOT NULL DEFAULT '{}';
    -- The schemas of the plan's search path that values kept as text were written under (NULL:
    -- none kept, or an archive made before): names inside them are read back under it (hostile-q 05).
    ALTER TABLE bellows.archives ADD COLUMN IF NOT EXISTS search_path text[];
    """

    /// The columns of the first `bellows.plans`, and those upgrades added (`ensure`).
    static let basePlanColumns = """
    id, checksum, table_name, phase, expand_checksum, expanding, touched_columns, backfill_cursor,
    backfill_rows, backfill_done, extract(epoch FROM verified_at)::float8 AS verified_at,
    extract(epoch FROM updated_at)::float8 AS updated_at
    """
    static let upgradedPlanColumns: [(name: String, type: String)] = [
        ("verified_trigger", "text"), ("search_path", "text[]"), ("not_null_shape", "text"), ("plan_text", "text"), ("plan_path", "text"),
        ("owed_validations", "text[]"), ("backfill_bound", "text[]"),
    ]
    static let planColumns = basePlanColumns + ", " + upgradedPlanColumns.map(\.name).joined(separator: ", ")

    static func decode(_ row: Row) throws -> PlanState {
        PlanState(
            id: try row.string("id"), checksum: try row.string("checksum"), table: try row.string("table_name"),
            phase: Phase(rawValue: try row.string("phase")) ?? .planned,
            expandChecksum: try row.optionalString("expand_checksum"), expanding: try row.bool("expanding"),
            touchedColumns: try row.stringArray("touched_columns"),
            backfillCursor: try row.raw("backfill_cursor").map { PostgresArray.parse($0).map { $0 ?? "" } },
            backfillRows: try row.int("backfill_rows"), backfillDone: try row.bool("backfill_done"),
            verifiedAt: try row.optionalDouble("verified_at").map { Date(timeIntervalSince1970: $0) },
            updatedAt: try row.optionalDouble("updated_at").map { Date(timeIntervalSince1970: $0) },
            verifiedTrigger: try row.optionalString("verified_trigger"),
            searchPath: try row.raw("search_path").map { PostgresArray.parse($0).map { $0 ?? "" } },
            notNullShape: try row.optionalString("not_null_shape"),
            planText: try row.optionalString("plan_text"), planPath: try row.optionalString("plan_path"),
            owedValidations: try row.raw("owed_validations").map { PostgresArray.parse($0).compactMap { $0 } } ?? [],
            backfillBound: try row.raw("backfill_bound").map { PostgresArray.parse($0).map { $0 ?? "" } })
    }

    public static func plan(_ connection: Connection, id: String, forUpdate: Bool = false) throws -> PlanState? {
        try plans(connection, "WHERE id = $1\(forUpdate ? " FOR UPDATE" : "")", [id]).first
    }

    /// Rows of `bellows.plans`. A schema an older Bellows made, read by a command that does not
    /// upgrade it (`status`, `wait`), lacks the columns later versions added: they read as NULL.
    static func plans(_ connection: Connection, _ suffix: String, _ parameters: [(any PostgresBindable)?] = []) throws -> [PlanState] {
        do {
            return try connection.query("SELECT \(planColumns) FROM bellows.plans \(suffix)", parameters).map(decode)
        } catch let error as PostgresError where error.sqlState == .undefinedColumn && !connection.inTransaction {
            let present = Set(try connection.query("""
                SELECT attname FROM pg_attribute WHERE attrelid = 'bellows.plans'::regclass AND attnum > 0 AND NOT attisdropped
                """).map { try $0.string("attname") })
            let columns = upgradedPlanColumns.map { present.contains($0.name) ? $0.name : "NULL::\($0.type) AS \($0.name)" }
            return try connection.query("SELECT \(basePlanColumns), \(columns.joined(separator: ", ")) FROM bellows.plans \(suffix)", parameters)
                .map(decode)
        }
    }

    /// The table as expand stored it (before any change), nil when none is stored.
    public static func storedTable(_ connection: Connection, id: String) throws -> TableInfo? {
        guard let json = try connection.query("SELECT table_info FROM bellows.plans WHERE id = $1", [id]).first?.optionalString("table_info"),
              let data = json.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode(TableInfo.self, from: data)
    }

    public static func allPlans(_ connection: Connection) throws -> [PlanState] {
        try plans(connection, "ORDER BY id")
    }

    /// The plan's row, created in phase `planned` when the plan is new.
    public static func register(_ connection: Connection, plan: Plan) throws -> PlanState {
        try connection.execute("""
            INSERT INTO bellows.plans (id, checksum, table_name) VALUES ($1, $2, $3)
            ON CONFLICT (id) DO NOTHING
            """, [plan.id, plan.checksum, plan.table.value.description])
        guard let state = try self.plan(connection, id: plan.id) else {
            throw PostgresError(kind: .client, message: "plan \(plan.id) vanished from bellows.plans")
        }
        return state
    }

    /// Compare-and-set of the phase: succeeds only if the plan is still in `from`.
    public static func transition(_ connection: Connection, id: String, from: Phase, to: Phase,
                                  extra: String = "", _ parameters: [(any PostgresBindable)?] = []) throws -> Bool {
        let sql = "UPDATE bellows.plans SET phase = $2, updated_at = now()\(extra) WHERE id = $1 AND phase = $3"
        return try connection.execute(sql, [id, to.rawValue, from.rawValue] + parameters).affectedRows == 1
    }

    /// Saves the backfill's upper bound (nil: the table was empty) while the plan is in `phase`.
    public static func saveBackfillBound(_ connection: Connection, plan: String, bound: [String]?, phase: Phase) throws {
        try connection.execute("UPDATE bellows.plans SET backfill_bound = $2::text[], updated_at = now() WHERE id = $1 AND phase = $3",
                               [plan, bound.map { PostgresArray.literal($0) }, phase.rawValue])
    }

    /// Marks the start of a backfill run (`status` compares its rate with the plan's estimate).
    public static func markBackfillStart(_ connection: Connection, plan: String, phase: Phase) throws {
        try connection.execute("""
            UPDATE bellows.plans SET backfill_started_at = now(), backfill_rows_at_start = backfill_rows, updated_at = now()
            WHERE id = $1 AND phase = $2
            """, [plan, phase.rawValue])
    }

    /// Appends to the audit log. `details` is a JSON object.
    public static func record(_ connection: Connection, plan: String, actor: String, command: String,
                              from: Phase?, to: Phase?, outcome: String, details: [String: JSONValue]) throws {
        try connection.execute("""
            INSERT INTO bellows.events (plan_id, actor, command, from_phase, to_phase, outcome, details)
            VALUES ($1, \(actorSQL(2)), $3, $4, $5, $6, $7::jsonb)
            """, [plan, actor, command, from?.rawValue, to?.rawValue, outcome, JSONValue.object(details).serialized])
    }

    public static func events(_ connection: Connection, plan: String?) throws -> [PlanEvent] {
        let rows = try connection.query("""
            SELECT id, plan_id, actor, command, from_phase, to_phase, outcome, details::text AS details,
                   to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
            FROM bellows.events WHERE $1::text IS NULL OR plan_id = $1 ORDER BY id
            """, [plan])
        return try rows.map { row in
            PlanEvent(id: try row.int("id"), planID: try row.string("plan_id"), actor: try row.string("actor"),
                      command: try row.string("command"), fromPhase: try row.optionalString("from_phase"),
                      toPhase: try row.optionalString("to_phase"), outcome: try row.string("outcome"),
                      details: try row.string("details"), at: try row.string("at"))
        }
    }

    public static func approvals(_ connection: Connection, plan: Plan) throws -> Set<String> {
        Set(try connection.query("SELECT gate FROM bellows.approvals WHERE plan_id = $1 AND checksum = $2", [plan.id, plan.checksum])
            .map { try $0.string("gate") })
    }
}
