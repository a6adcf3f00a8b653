import BellowsPlan
import BellowsSQL
import PGClient

/// What about a table, for the role Bellows connects as, would let a phase see or change
/// fewer rows than the table holds: row-level security in force, and inheritance children
/// (rows the trigger on the parent never sees written). Read from `pg_catalog`; `failures`
/// decides.
struct TableSafety: Sendable, Hashable {
    /// The table as `regclass` prints it.
    var table: String
    var role: String
    /// `row_security_active`: policies filter this role's reads and writes of the table.
    var rowSecurityActive: Bool
    var forceRowSecurity: Bool
    /// The role owns the table (directly or through membership).
    var isOwner: Bool
    /// Policy names, restrictive ones marked.
    var policies: [String]
    /// Tables inheriting from this one with `INHERITS` (partitions are not counted here).
    var inheritanceChildren: [String]
    /// Tables this one inherits from with `INHERITS`.
    var inheritanceParents: [String]

    static func read(_ connection: Connection, table: String) throws -> TableSafety? {
        guard let row = try connection.query("""
            SELECT c.oid::regclass::text AS table_name, current_user AS role,
                   row_security_active(c.oid) AS rls_active, c.relforcerowsecurity AS forced,
                   pg_has_role(c.relowner, 'USAGE') AS is_owner,
                   ARRAY(SELECT p.polname || CASE WHEN p.polpermissive THEN '' ELSE ' (restrictive)' END
                         FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY p.polname) AS policies,
                   ARRAY(SELECT i.inhrelid::regclass::text FROM pg_inherits i
                         WHERE i.inhparent = c.oid AND c.relkind <> 'p' ORDER BY 1) AS children,
                   ARRAY(SELECT i.inhparent::regclass::text FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                         WHERE i.inhrelid = c.oid AND pc.relkind <> 'p' ORDER BY 1) AS parents
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, [table]).first else { return nil }
        return TableSafety(table: try row.string("table_name"), role: try row.string("role"),
                           rowSecurityActive: try row.bool("rls_active"), forceRowSecurity: try row.bool("forced"),
                           isOwner: try row.bool("is_owner"), policies: try row.stringArray("policies"),
                           inheritanceChildren: try row.stringArray("children"), inheritanceParents: try row.stringArray("parents"))
    }

    /// The reasons no phase may run on the table as it is. `renamingTableOnly`: for a plan
    /// that renames the table and nothing else (`Plan.renamesTableOnly`), which has no trigger,
    /// backfill or column for inheritance to escape: its view reads and writes the children's
    /// rows through the parent as the table does, and contract renames the one table, the
    /// children keeping their names and their link to it (hostile-h 22). Nor for row-level
    /// security on PostgreSQL 15 and later (`serverVersion`): such a plan reads and writes no
    /// row, and its view is `security_invoker`, so whoever uses the new name sees and changes
    /// the rows the policies give them through the table; before 15 a view has no
    /// `security_invoker` and would read the table as its owner, so the refusal stays, saying so.
    func failures(renamingTableOnly: Bool = false, serverVersion: Int = 150000) -> [GateFailure] {
        var failures: [GateFailure] = []
        if rowSecurityActive && renamingTableOnly && !Self.viewsKeepRowSecurity(serverVersion: serverVersion) {
            failures.append(GateFailure(
                gate: "row-security",
                message: "row-level security is enabled on \(table): the view under the new name would keep its policies only as a security_invoker view, "
                    + "which PostgreSQL 15 and later have (this server is \(serverVersion / 10000)); without it the view reads and writes the table as its owner, past the policies",
                remedy: "rename the table in a migration (`ALTER TABLE \(table) RENAME TO …`) with the application, or upgrade to PostgreSQL 15 or later first"))
        } else if rowSecurityActive && !renamingTableOnly {
            let policyList = policies.isEmpty ? "no policy (every row hidden)" : "policies " + policies.joined(separator: ", ")
            let remedy = isOwner && forceRowSecurity
                ? "run Bellows as a role with BYPASSRLS (`ALTER ROLE … BYPASSRLS`), or lift FORCE for the owner during the transition (`ALTER TABLE \(table) NO FORCE ROW LEVEL SECURITY`)"
                : "run Bellows as the table's owner (without FORCE ROW LEVEL SECURITY) or as a role with BYPASSRLS (`ALTER ROLE … BYPASSRLS`)"
            failures.append(GateFailure(
                gate: "row-security",
                message: "row-level security applies to role \(role) on \(table) (\(policyList)\(forceRowSecurity ? ", FORCE" : "")): "
                    + "Bellows would backfill and verify only the rows the policies show it, and contract would drop the values of the others",
                remedy: remedy))
        }
        if !inheritanceChildren.isEmpty && !renamingTableOnly {
            failures.append(GateFailure(
                gate: "inheritance",
                message: "\(table) has inheritance children (\(inheritanceChildren.joined(separator: ", "))): their rows are read and written through \(table) "
                    + "but the dual-write trigger, the new columns' backfill and contract's checks cover \(table) alone",
                remedy: "change each child with its own plan, or detach the children (`ALTER TABLE child NO INHERIT \(table)`) first"))
        }
        if !inheritanceParents.isEmpty && !renamingTableOnly {
            failures.append(GateFailure(
                gate: "inheritance",
                message: "\(table) inherits from \(inheritanceParents.joined(separator: ", ")): writes through the parent reach its rows, "
                    + "and columns it inherits cannot be renamed or dropped on it alone",
                remedy: "change the parent and its children together in a migration, or detach \(table) (`ALTER TABLE \(table) NO INHERIT parent`) first"))
        }
        return failures
    }

    /// A statement that failed because row-level security would have filtered it
    /// (`row_security = off` makes PostgreSQL refuse instead of filtering), with what to do.
    static func explained(_ error: PostgresError) -> PostgresError {
        guard error.sqlState == SQLState("42501"), error.message.contains("row-level security") else { return error }
        var explained = error
        explained.hint = "Bellows reads and writes every row or none: it runs with row_security = off, so a policy that would hide rows "
            + "stops the phase instead. Run Bellows as a role with BYPASSRLS, or as the table's owner without FORCE ROW LEVEL SECURITY."
            + (error.hint.map { " (\($0))" } ?? "")
        return explained
    }
}

extension Engine {
    /// The table-level reasons a phase of `plan` may not run (row-level security, inheritance;
    /// no inheritance for a plan that renames its table alone).
    func tableSafetyFailures(table: String, plan: Plan? = nil, connection: Connection) throws -> [GateFailure] {
        try TableSafety.read(connection, table: table)?.failures(renamingTableOnly: plan?.renamesTableOnly ?? false,
                                                                 serverVersion: connection.serverVersion) ?? []
    }
}

extension TableSafety {
    /// Whether a view Bellows makes keeps the table's row-level security for whoever uses it
    /// (`security_invoker`, PostgreSQL 15 and later).
    static func viewsKeepRowSecurity(serverVersion: Int) -> Bool { serverVersion >= 150000 }

}

/// The table's own triggers (not Bellows', not internal ones), for what the backfill fires and
/// what may change values after the dual-write trigger.
struct UserTrigger: Sendable, Hashable {
    var name: String
    /// `pg_trigger.tgtype`: bit 1 row-level, 2 BEFORE, 4 INSERT, 16 UPDATE.
    var type: Int
    /// `pg_trigger.tgenabled`: `O` origin and local sessions, `R` replica only, `A` always, `D` disabled.
    var enabled: String

    static func read(_ connection: Connection, table: String) throws -> [UserTrigger] {
        try connection.query("""
            SELECT tgname AS name, tgtype::int AS type, tgenabled::text AS enabled FROM pg_trigger
            WHERE tgrelid = to_regclass($1) AND NOT tgisinternal AND left(tgname, length($2)) <> $2 AND left(tgname, length($3)) <> $3 AND left(tgname, length($4)) <> $4
            ORDER BY tgname COLLATE "C"
            """, [table, TransitionNames.reservedPrefix, TransitionNames.triggerPrefix, TransitionNames.firstTriggerPrefix]).map {
                UserTrigger(name: try $0.string("name"), type: try $0.int("type"), enabled: try $0.string("enabled"))
            }
    }

    var isRowLevel: Bool { type & 1 != 0 }
    var isBefore: Bool { type & 2 != 0 }
    var onInsert: Bool { type & 4 != 0 }
    var onUpdate: Bool { type & 16 != 0 }

    /// Whether the backfill's UPDATEs fire it, in replica mode or not.
    func firesOnBackfill(replica: Bool) -> Bool {
        onUpdate && (replica ? ["A", "R"].contains(enabled) : ["A", "O"].contains(enabled))
    }

    /// "name (BEFORE UPDATE)".
    var described: String {
        let events = [onInsert ? "INSERT" : nil, onUpdate ? "UPDATE" : nil, type & 8 != 0 ? "DELETE" : nil].compactMap { $0 }
        return "\(name) (\(isBefore ? "BEFORE" : (type & 64 != 0 ? "INSTEAD OF" : "AFTER")) \(events.joined(separator: " OR ")))"
    }

    /// The BEFORE row triggers that run after `bellows` (PostgreSQL fires triggers of the same
    /// kind in name order), so may change a value the dual-write trigger computed.
    static func firingAfter(_ bellows: String, in triggers: [UserTrigger]) -> [UserTrigger] {
        triggers.filter { $0.isRowLevel && $0.isBefore && ($0.onInsert || $0.onUpdate) && $0.enabled != "D"
            && Array($0.name.utf8).lexicographicallyPrecedes(Array(bellows.utf8)) == false }
    }
}

extension Engine {
    /// The table's enabled BEFORE row triggers on INSERT or UPDATE that fire after the plan's
    /// dual-write trigger `trigger` (PostgreSQL fires them in name order, byte by byte): one
    /// that changes a replaced column after Bellows copied it leaves the new column with the
    /// value from before, and contract drops the right one (hostile-d 22). Bellows' trigger is
    /// named to fire last (`TransitionNames.triggerPrefix`); a table trigger named to sort after
    /// it (`~…`, non-ASCII), or one added since, refuses expand, verify and contract.
    func triggerOrderFailures(_ transition: Transition, trigger: String, connection: Connection) throws -> [GateFailure] {
        let later = UserTrigger.firingAfter(trigger, in: try UserTrigger.read(connection, table: transition.quotedTable))
        guard !later.isEmpty else { return [] }
        let table = transition.quotedTable
        let sql = PhaseSQL(transition)
        let remedy = trigger == sql.legacyTriggerName
            ? "the plan was expanded when Bellows' trigger fired first: rename it to fire last "
                + "(`ALTER TRIGGER \(SQLQuote.identifier(trigger)) ON \(table) RENAME TO \(SQLQuote.identifier(sql.triggerName))`), "
                + "then verify again (it compares every row)"
            : "rename \(later.count == 1 ? "it" : "each") to a name that sorts before \(trigger) in byte order (one starting with a letter, a digit or _: "
                + later.map { "`ALTER TRIGGER \(SQLQuote.identifier($0.name)) ON \(table) RENAME TO …`" }.joined(separator: ", ")
                + "), then run this command again"
        return [GateFailure(
            gate: "trigger-order",
            message: "\(later.count == 1 ? "the BEFORE row trigger" : "the BEFORE row triggers") \(later.map(\.described).joined(separator: ", ")) of \(transition.tableName) "
                + "\(later.count == 1 ? "fires" : "fire") after Bellows' dual-write trigger \(trigger) (PostgreSQL fires them in name order): "
                + "a value \(later.count == 1 ? "it writes" : "they write") into a replaced column after Bellows copied it would never reach the new column, and contract would drop it",
            remedy: remedy)]
    }

    /// The name the plan's dual-write trigger has on the table: `~bellows_sync_…`, or, for a plan
    /// expanded before hostile-d 22, `_bellows_sync_…`; the current name when neither is there.
    func dualWriteTrigger(_ sql: PhaseSQL, transition: Transition, connection: Connection) throws -> String {
        let row = try connection.query("""
            SELECT tgname::text AS name FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname IN ($2::name, $3::name)
            ORDER BY tgname COLLATE "C" DESC LIMIT 1
            """, [transition.quotedTable, sql.triggerName, sql.legacyTriggerName]).first
        return try row?.string("name") ?? sql.triggerName
    }

    /// Whether this role may run the backfill's batches with `session_replication_role =
    /// replica` (superusers; from PostgreSQL 15, roles granted SET on the parameter).
    func mayReplicateBackfill(_ connection: Connection) throws -> Bool {
        guard let row = try connection.query("""
            SELECT current_setting('is_superuser') = 'on' AS superuser, current_setting('server_version_num')::int AS version
            """).first else { return false }
        if try row.bool("superuser") { return true }
        guard try row.int("version") >= 150000 else { return false }
        return try connection.query("SELECT has_parameter_privilege('session_replication_role', 'SET') AS may").first?.bool("may") ?? false
    }

    /// The user triggers the backfill cannot help firing, described, or none. Replica mode
    /// also silences the foreign keys' own triggers (their checks and ON UPDATE actions), so
    /// it is not used when a column the backfill writes takes part in one; nor when the
    /// backfill rewrites values applications read (an in-place `up`), which the table's
    /// triggers must see to keep what they derive from them (a search column, an outbox row)
    /// right (hostile finding 08).
    func triggersTheBackfillFires(_ transition: Transition, connection: Connection) throws -> BackfillTriggers {
        let table = transition.quotedTable
        let foreignKeys = try foreignKeys(table: table, columns: transition.backfilledColumns, connection: connection)
        let inPlace = transition.rewritesVisibleValues
        let replica = foreignKeys.isEmpty && !inPlace ? try mayReplicateBackfill(connection) : false
        return BackfillTriggers(replica: replica, fired: try UserTrigger.read(connection, table: table).filter { $0.firesOnBackfill(replica: replica) },
                                foreignKeys: foreignKeys, inPlace: inPlace)
    }

    /// The foreign keys `columns` of `table` take part in, "name on table": validated ones of
    /// the table over them (a NOT VALID one is validated at verify, over every row), and every
    /// one of any table referencing them.
    func foreignKeys(table: String, columns: [String], connection: Connection) throws -> [String] {
        guard !columns.isEmpty else { return [] }
        return try connection.query("""
            SELECT c.conname || ' on ' || c.conrelid::regclass::text AS fk FROM pg_constraint c
            WHERE c.contype = 'f' AND (
              (c.conrelid = to_regclass($1) AND c.convalidated AND EXISTS (
                 SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) AND a.attname = ANY ($2::text[])))
              OR (c.confrelid = to_regclass($1) AND EXISTS (
                 SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attnum = ANY (c.confkey) AND a.attname = ANY ($2::text[]))))
            ORDER BY 1
            """, [table, PostgresArray.literal(columns)]).map { try $0.string("fk") }
    }
}

/// A user trigger of the table and its function's source, for the columns its body names, with
/// what makes it fire (for contract's writability proof, `WritabilityProof`).
struct TriggerFunctionSource: Sendable, Hashable {
    var trigger: String
    var function: String
    var source: String
    /// `pg_trigger.tgtype`: bit 0 row-level, 1 BEFORE, 2 INSERT, 3 DELETE, 4 UPDATE, 5 TRUNCATE, 6 INSTEAD OF.
    var type: Int = 0b1_0101
    /// `pg_trigger.tgenabled`: `O` origin, `A` always, `R` replica only, `D` disabled.
    var enabled: String = "O"
    /// It has a `WHEN` condition.
    var hasWhen: Bool = false
    /// The columns of `UPDATE OF` (attnums); empty for any column.
    var columns: [Int] = []
    /// The function's language (`plpgsql`, `plpython3u`…).
    var language: String = "plpgsql"

    static func read(_ connection: Connection, table: String) throws -> [TriggerFunctionSource] {
        try connection.query("""
            SELECT g.tgname::text AS trigger, g.tgfoid::regprocedure::text AS function, p.prosrc AS source,
                   g.tgtype::int AS type, g.tgenabled::text AS enabled, g.tgqual IS NOT NULL AS has_when,
                   array_to_string(g.tgattr::int2[], ',') AS columns, l.lanname::text AS language
            FROM pg_trigger g JOIN pg_proc p ON p.oid = g.tgfoid JOIN pg_language l ON l.oid = p.prolang
            WHERE g.tgrelid = to_regclass($1) AND NOT g.tgisinternal AND left(g.tgname, length($2)) <> $2 AND left(g.tgname, length($3)) <> $3 AND left(g.tgname, length($4)) <> $4
            ORDER BY g.tgname COLLATE "C"
            """, [table, TransitionNames.reservedPrefix, TransitionNames.triggerPrefix, TransitionNames.firstTriggerPrefix]).map {
                TriggerFunctionSource(trigger: try $0.string("trigger"), function: try $0.string("function"), source: try $0.string("source"),
                                      type: try $0.int("type"), enabled: try $0.string("enabled"), hasWhen: try $0.bool("has_when"),
                                      columns: try $0.string("columns").split(separator: ",").compactMap { Int($0) },
                                      language: try $0.string("language"))
            }
    }

    /// The columns of `columns` the source names as a whole identifier (case-insensitively, so
    /// `NEW.Email` and `"email"` count, `emails` does not); pure. A PL/pgSQL or SQL body is read
    /// with the SQL lexer, so a comment or a string constant (`RAISE EXCEPTION 'bad email'`,
    /// `to_jsonb(NEW) ->> 'email'`) names nothing; another language's source is searched whole.
    func mentions(_ columns: [String]) -> [String] {
        if language == "plpgsql" || language == "sql" {
            let names = Set(Lexer.tokenize(source).compactMap { token in
                token.kind == .word || token.kind == .quotedIdentifier ? token.identifierValue?.lowercased() : nil
            })
            return columns.filter { names.contains($0.lowercased()) }
        }
        let text = Array(source.lowercased().utf8)
        func isIdentifierByte(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$") || byte >= 0x80
                || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        return columns.filter { column in
            let word = Array(column.lowercased().utf8)
            guard !word.isEmpty, text.count >= word.count else { return false }
            for start in 0...(text.count - word.count) where text[start..<(start + word.count)].elementsEqual(word) {
                let before = start == 0 || !isIdentifierByte(text[start - 1])
                let after = start + word.count == text.count || !isIdentifierByte(text[start + word.count])
                if before && after { return true }
            }
            return false
        }
    }
}

extension Engine {
    /// Warnings, one per user trigger of the table whose function's source names a column
    /// contract renames or drops: no catalog dependency records it, and after contract every
    /// write that fires it fails (contract's writability proof refuses then, `WritabilityProof`).
    func triggerBodyWarnings(_ transition: Transition, connection: Connection) throws -> [String] {
        let gone = transition.goneAtContract
        guard !gone.isEmpty else { return [] }
        return try TriggerFunctionSource.read(connection, table: transition.quotedTable).compactMap { trigger in
            let named = trigger.mentions(gone)
            guard !named.isEmpty else { return nil }
            return "trigger \(trigger.trigger) (\(trigger.firing)) runs \(trigger.function), whose source names \(named.joined(separator: ", ")), "
                + "which contract renames or drops: change the function before contract so it works on both shapes of the table "
                + "(to_jsonb(NEW) reads a row of either shape). Contract refuses while an UPDATE, an INSERT of a copy of a row or a "
                + "DELETE (deferred triggers made immediate) fails after its changes, and while its source names "
                + "\(named.joined(separator: ", ")) and none of those writes can be shown to fire it (an empty table, a WHEN "
                + "condition, AFTER INSERT when every copy's key is taken)"
        }
    }
}

extension Engine {
    /// Expand refuses a table a publication sends whole (FOR ALL TABLES, FOR TABLES IN SCHEMA,
    /// or FOR TABLE without a column list): its new columns would be replicated with every row
    /// written afterwards, and a subscriber whose table lacks them stops applying the whole
    /// subscription, which rollback cannot undo (hostile finding 15).
    func publicationFailures(table: String, connection: Connection) throws -> [GateFailure] {
        try Self.publicationFailures(table: table, connection: connection)
    }

    static func publicationFailures(table: String, connection: Connection) throws -> [GateFailure] {
        publicationFailures(table: table, publishedWhole: try publications(of: table, wholeOnly: true, connection: connection))
    }

    /// The refusal of a plan that renames columns in place (`strategy: views`) on a table
    /// `publishedWhole` by those publications: contract's RENAME COLUMN changes the name they
    /// send the column under, and a subscriber, which matches columns by name, stops applying
    /// the whole subscription (hostile-g 01). Pure.
    public static func publicationFailures(table: String, renames: [(old: String, new: String)], publishedWhole publications: [String]) -> [GateFailure] {
        guard !publications.isEmpty, !renames.isEmpty else { return [] }
        let names = renames.map { "\($0.old) → \($0.new)" }.joined(separator: ", ")
        return [GateFailure(
            gate: "publication",
            message: "\(table) is published without a column list by \(publications.joined(separator: ", ")): contract's RENAME COLUMN (\(names)) would "
                + "change the names they send, and a subscriber, which matches columns by name, stops applying the whole subscription (rollback cannot undo it)",
            remedy: "use strategy: copy (subscribers add the new column before contract), or publish \(table) with a column list that leaves "
                + renames.map(\.old).joined(separator: ", ") + " out (PostgreSQL 15+: ALTER PUBLICATION … SET TABLE \(table) (columns)), then expand")]
    }

    /// The refusal of `rename_table_to` on a table `publications` send (with a column list or
    /// not, whatever they publish): pgoutput sends a change by the table's schema and name, and
    /// a subscriber maps it to its table by that name, so from contract on its apply worker
    /// fails on every change of the renamed table ("target relation … does not exist") and
    /// restarts in a loop while the slot holds WAL on the primary (hostile-h 07). The publisher
    /// cannot make that safe: only the subscriber's own rename can. Pure.
    public static func tableRenamePublicationFailures(table: String, to new: String, publications: [String]) -> [GateFailure] {
        guard !publications.isEmpty else { return [] }
        return [GateFailure(
            gate: "publication",
            message: "\(table) is published by \(publications.joined(separator: ", ")): a publication sends its changes under the table's name, "
                + "and after contract's rename to \(new) a subscriber, which finds its table by that name, stops applying the whole "
                + "subscription (\"logical replication target relation … does not exist\") while the slot holds WAL on the primary (rollback cannot undo it)",
            remedy: "rename the table with the subscribers, not with a plan: at a moment you choose, rename it on the publisher in a migration "
                + "(ALTER TABLE … RENAME TO \(SQLQuote.identifier(new))) and the subscribers' table to the same name right after (their apply "
                + "worker retries until it finds it, losing nothing), with the application's versions switching names then too; "
                + "or take the table out of \(publications.joined(separator: ", ")) first if no subscriber needs it")]
    }

    /// The publications that send `table` under its own name: `pg_publication_tables`' view of
    /// them (FOR ALL TABLES, FOR TABLES IN SCHEMA, FOR TABLE with a column list or not; a
    /// partition published through its root is sent under the root's name, not its own).
    static func publicationsSendingItsName(_ table: String, connection: Connection) throws -> [String] {
        try connection.query("""
            SELECT DISTINCT t.pubname::text AS name FROM pg_publication_tables t
            JOIN pg_namespace n ON n.nspname = t.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
            WHERE c.oid = to_regclass($1) ORDER BY 1
            """, [table]).map { try $0.string("name") }
    }

    static func publicationFailures(table: String, publishedWhole publications: [String]) -> [GateFailure] {
        guard !publications.isEmpty else { return [] }
        return [GateFailure(
            gate: "publication",
            message: "\(table) is published without a column list by \(publications.joined(separator: ", ")): expand's new columns would be "
                + "replicated, and a subscriber whose table lacks them stops applying the whole subscription (rollback cannot undo it)",
            remedy: "publish \(table) with a column list that leaves the new columns out (PostgreSQL 15+: ALTER PUBLICATION … SET TABLE "
                + "\(table) (columns)), or take it out of the publication, then expand; add the final columns to subscribers before contract")]
    }

    /// The publications that send `table`: with `wholeOnly`, those that send every column (FOR
    /// ALL TABLES, FOR TABLES IN SCHEMA, FOR TABLE without a column list); else those that
    /// publish its UPDATEs or DELETEs, with a column list or not.
    static func publications(of table: String, wholeOnly: Bool, connection: Connection) throws -> [String] {
        let modern = connection.serverVersion >= 150000
        let changes = wholeOnly ? "" : " AND (p.pubupdate OR p.pubdelete)"
        return try connection.query("""
            SELECT p.pubname::text AS name FROM pg_publication p WHERE p.puballtables\(changes)
            UNION
            SELECT p.pubname::text FROM pg_publication p JOIN pg_publication_rel r ON r.prpubid = p.oid
            WHERE r.prrelid = to_regclass($1)\(modern && wholeOnly ? " AND r.prattrs IS NULL" : "")\(changes)
            \(modern ? """
            UNION
            SELECT p.pubname::text FROM pg_publication p JOIN pg_publication_namespace n ON n.pnpubid = p.oid
            JOIN pg_class c ON c.relnamespace = n.pnnspid WHERE c.oid = to_regclass($1)\(changes)
            """ : "")
            ORDER BY 1
            """, [table]).map { try $0.string("name") }
    }

    /// Expand refuses a plan that drops, at contract, the index a published table uses as its
    /// `REPLICA IDENTITY` without making another: from contract on every UPDATE and DELETE of
    /// the table fails (55000), which contract's writability proof found only after expand,
    /// backfill and verify had run (hostile-d 18).
    static func replicaIdentityFailures(_ transition: Transition, connection: Connection) throws -> [GateFailure] {
        guard transition.dropsReplicaIdentity != nil else { return [] }
        return replicaIdentityFailures(transition, publications: try publications(of: transition.quotedTable, wholeOnly: false, connection: connection))
    }

    /// The refusal for `transition` when `publications` publish its table's updates or deletes. Pure.
    public static func replicaIdentityFailures(_ transition: Transition, publications: [String]) -> [GateFailure] {
        guard let index = transition.dropsReplicaIdentity, !publications.isEmpty else { return [] }
        let table = transition.quotedTable
        return [GateFailure(
            gate: "replica-identity",
            message: "\(transition.tableName) uses index \(index) as its REPLICA IDENTITY and \(publications.joined(separator: ", ")) publish\(publications.count == 1 ? "es" : "") its updates or deletes: "
                + "the plan drops that index at contract, and from then on every UPDATE and DELETE of the table fails (55000)",
            remedy: "give the table another replica identity first (ALTER TABLE \(table) REPLICA IDENTITY USING INDEX …, or DEFAULT with a primary key), then expand")]
    }
}

/// What the backfill's batches fire of the table's own triggers, and why.
struct BackfillTriggers: Sendable {
    /// The batches run with `session_replication_role = replica`.
    var replica: Bool
    var fired: [UserTrigger]
    /// Foreign keys over the columns the backfill writes, which keep it out of replica mode.
    var foreignKeys: [String]
    /// The backfill rewrites values applications read (an in-place `up`), which keeps it out of replica mode.
    var inPlace: Bool = false
}
