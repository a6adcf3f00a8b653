import BellowsSQL

/// `move_columns: { to: profile_metadata, columns: [bio, website] }`: a plan that moves columns
/// of its table into a new table keyed by the table's key (issue 23, the guide's split of
/// `profiles`). A move plan has no `changes:`; see docs/plans.md "move_columns".
public struct MoveColumns: Sendable, Hashable {
    /// The new table: `name` (in the source table's schema) or `schema.name`.
    public var to: Located<TableName>
    /// The source table's columns that move, in the order the new table gets them.
    public var columns: [Located<String>]
    /// Where `move_columns:` is written.
    public var location: SourceLocation

    public init(to: Located<TableName>, columns: [Located<String>], location: SourceLocation) {
        self.to = to
        self.columns = columns
        self.location = location
    }
}

/// A move plan resolved against its source table: what every phase renders from. Pure.
public struct ColumnMove: Sendable, Hashable {
    public var plan: Plan
    public var move: MoveColumns
    /// The source table as the phases see it (expand stores it).
    public var source: TableInfo
    /// The new table, its schema resolved (the source's when the plan gives none).
    public var target: TableName
    /// The source's key (primary key, else the batch key): the new table's key and foreign key.
    public var key: [ColumnInfo]
    /// The moved columns, as the source has them.
    public var moved: [ColumnInfo]
    /// CHECK constraints of the source that read only moved columns: the new table gets them.
    public var checks: [ConstraintInfo]
    /// The schemas the trigger functions resolve names in (expand keeps the session's).
    public var searchPath: [String]? = nil
    /// Types compared as text (no default equality: `json`, `xml`, `point`…), read at expand.
    public var typesWithoutEquality: Set<String> = []
    /// Table-level privileges of the source (`grantee`, `privilege`; grantee `PUBLIC` for all),
    /// granted on the new table at expand so the application's roles can use it.
    public var tableGrants: [TableGrant] = []

    /// The source's row-level security, read at expand (nil: not enabled, or not read): the
    /// new table gets it, with a policy that shows and lets write a row only with its source
    /// row, as the source's policies show it (hostile-h 02).
    public var rowSecurity: RowSecurity? = nil

    public struct RowSecurity: Sendable, Hashable {
        /// `FORCE ROW LEVEL SECURITY` on the source: the new table gets it too.
        public var forced: Bool
        /// The source's policies (named in what expand reports).
        public var policies: [String]
        public init(forced: Bool, policies: [String]) {
            self.forced = forced
            self.policies = policies
        }
    }

    /// Column privileges of the source on the key and the moved columns (`grantee`,
    /// `privilege`, `column`), granted on the same columns of the new table at expand: a role
    /// that may read or write a moved column there may here, and join on the key (hostile-h 21).
    public var columnGrants: [ColumnGrant] = []

    public struct ColumnGrant: Sendable, Hashable {
        public var grantee: String
        public var privilege: String
        public var column: String
        public init(grantee: String, privilege: String, column: String) {
            self.grantee = grantee
            self.privilege = privilege
            self.column = column
        }
    }

    public struct TableGrant: Sendable, Hashable {
        public var grantee: String
        public var privilege: String
        public init(grantee: String, privilege: String) {
            self.grantee = grantee
            self.privilege = privilege
        }
    }

    public var quotedSource: String { SQLQuote.qualified(schema: source.schema, name: source.name) }
    public var quotedTarget: String { SQLQuote.qualified(schema: target.schema, name: target.name) }
    public var sourceName: String { "\(source.schema).\(source.name)" }
    public var targetName: String { target.description }
    public var keyNames: [String] { key.map(\.name) }
    public var movedNames: [String] { moved.map(\.name) }
}

/// Resolves a `move_columns` plan against its source table, with the findings that refuse it.
public enum MoveCompiler {
    /// `table` is the source table (nil: unknown, no finding here: the validator warns);
    /// `catalog` is where the new table must not exist yet.
    public static func compile(_ plan: Plan, table: TableInfo?, catalog: SchemaCatalog? = nil) -> (move: ColumnMove?, findings: [Finding]) {
        guard let move = plan.moveColumns, let table else { return (nil, []) }
        var findings: [Finding] = []
        func add(_ location: SourceLocation, _ rule: String, _ message: String) {
            findings.append(Finding(at: location, severity: .error, rule: rule, message: message))
        }
        let where_ = "\(table.schema).\(table.name)"
        let target = TableName(schema: move.to.value.schema ?? table.schema, name: move.to.value.name)
        if target.schema == table.schema && target.name == table.name {
            add(move.to.location, "plan-invalid-value", "'to' names the plan's own table \(where_): give the new table's name")
        } else if let catalog, catalog.table(target) != nil {
            add(move.to.location, "plan-name-collision", "table \(target) already exists: a move creates its new table at expand; name another, or move the columns with a migration")
        }
        let keyNames = table.batchKey ?? []
        if keyNames.isEmpty {
            add(plan.table.location, "plan-no-key", "\(where_) has no primary key nor a unique index over NOT NULL columns: the new table is keyed by the source's key")
        }
        var moved: [ColumnInfo] = []
        var seen: Set<String> = []
        for located in move.columns {
            let name = located.value
            guard seen.insert(name).inserted else {
                add(located.location, "plan-column-conflict", "column \"\(name)\" is listed twice in move_columns")
                continue
            }
            guard let column = table.column(name) else {
                var message = "\(where_) has no column \"\(name)\""
                if let s = Suggestion.closest(to: name, in: table.columns.map(\.name)) { message += "; did you mean \"\(s)\"?" }
                add(located.location, "plan-unknown-column", message)
                continue
            }
            if keyNames.contains(name) {
                add(located.location, "plan-changes-key", "\"\(name)\" is part of \(where_)'s key (\(keyNames.joined(separator: ", "))): the key stays in the source and keys the new table too")
                continue
            }
            if column.generated != nil {
                add(located.location, "plan-generated-column", "\"\(name)\" is a generated column: move it with a migration")
                continue
            }
            let details = table.details?.columns[name]
            if details?.identity != nil || details?.ownedSequence != nil {
                add(located.location, "plan-cannot-carry", "\"\(name)\" is an identity column or owns a sequence, which dropping it from \(where_) at contract would drop: a move cannot carry it")
                continue
            }
            moved.append(column)
        }
        let movedSet = Set(moved.map(\.name))
        var checks: [ConstraintInfo] = []
        for constraint in table.constraints where constraint.columns.contains(where: movedSet.contains) {
            let location = move.columns.first { constraint.columns.contains($0.value) }?.location ?? move.location
            if constraint.kind == "c" && constraint.columns.allSatisfy(movedSet.contains) && !constraint.isUnvalidated {
                checks.append(constraint)
            } else {
                add(location, "plan-cannot-carry", "constraint \(constraint.name) (\(constraint.definition)) uses a moved column"
                    + (constraint.kind == "c" ? " and a column that stays, or is not validated" : "")
                    + ": a move carries only validated CHECKs over moved columns; drop it with a migration first, and add it to the new table after contract")
            }
        }
        for index in table.indexes where !index.isConstraint && table.columns(of: index).contains(where: movedSet.contains) {
            let location = move.columns.first { table.columns(of: index).contains($0.value) }?.location ?? move.location
            add(location, "plan-cannot-carry", "index \(index.name) uses a moved column: a move does not carry indexes; drop it with a migration first, and create it on the new table after contract")
        }
        for dependent in table.details?.dependents ?? [] where movedSet.contains(dependent.column) {
            let location = move.columns.first { $0.value == dependent.column }?.location ?? move.location
            add(location, "plan-dependent-object", "\(dependent.description) uses \"\(dependent.column)\", which contract drops from \(where_): change it to read the new table first")
        }
        guard findings.isEmpty, !keyNames.isEmpty, !moved.isEmpty else { return (nil, findings) }
        let key = keyNames.compactMap { table.column($0) }
        return (ColumnMove(plan: plan, move: move, source: table, target: target, key: key, moved: moved, checks: checks), findings)
    }

    /// The catalog once the move is contracted: the source without the moved columns, and the
    /// new table (for the plans after it, `PlanChain`).
    public static func catalogAfterContract(_ move: ColumnMove, _ catalog: SchemaCatalog) -> SchemaCatalog {
        var source = move.source
        let moved = Set(move.movedNames)
        source.columns.removeAll { moved.contains($0.name) }
        source.constraints.removeAll { $0.columns.contains(where: moved.contains) }
        source.details = nil
        var columns = move.key.map { ColumnInfo(name: $0.name, type: $0.type, notNull: true) }
        columns += move.moved.map { ColumnInfo(name: $0.name, type: $0.type, notNull: $0.notNull, defaultExpression: $0.defaultExpression) }
        let target = TableInfo(schema: move.target.schema ?? move.source.schema, name: move.target.name, columns: columns,
                               primaryKey: move.keyNames, constraints: move.checks)
        return catalog.replacing(source).replacing(target)
    }
}

/// The SQL of every phase of a move, rendered deterministically (`bellows render` prints it).
public struct MoveSQL: Sendable {
    public let move: ColumnMove

    public init(_ move: ColumnMove) { self.move = move }

    private func q(_ name: String) -> String { SQLQuote.identifier(name) }
    private var source: String { move.quotedSource }
    private var target: String { move.quotedTarget }
    private var id: String { move.plan.id }

    /// The setting that makes a trigger of this plan stand aside: set by the backfill for its
    /// session, and by each trigger function around its own write so the other side's trigger
    /// does not write back (the dual-write trigger's `bellows.backfill`, PhaseSQL).
    public var marker: String { id }
    public var notMarked: String { "current_setting('bellows.backfill', true) IS DISTINCT FROM \(SQLQuote.literal(marker))" }

    public var triggerName: String { TransitionNames.fitted("\(TransitionNames.triggerPrefix)move_\(id)") }
    public var sourceFunction: String { SQLQuote.qualified(schema: "bellows", name: TransitionNames.fitted("move_\(id)_from_source")) }
    public var targetFunction: String { SQLQuote.qualified(schema: "bellows", name: TransitionNames.fitted("move_\(id)_from_target")) }
    public var searchPath: String { PhaseSQL.searchPathSQL(move.searchPath ?? PhaseSQL.defaultSearchPath) }

    private func collation(_ column: ColumnInfo) -> String {
        move.source.details?.columns[column.name]?.collation.map { " COLLATE \($0)" } ?? ""
    }

    /// A column as compared: as text when its type has no default equality.
    private func compared(_ prefix: String, _ column: ColumnInfo) -> String {
        let value = prefix.isEmpty ? q(column.name) : "\(prefix).\(q(column.name))"
        return move.typesWithoutEquality.contains(column.type) ? "\(value)::text" : value
    }
    private func row(_ prefix: String, _ columns: [ColumnInfo]) -> String {
        "ROW(" + columns.map { compared(prefix, $0) }.joined(separator: ", ") + ")"
    }
    private func keyMatch(_ left: String, _ right: String) -> String {
        move.key.map { "\(left.isEmpty ? "" : left + ".")\(q($0.name)) = \(right).\(q($0.name))" }.joined(separator: " AND ")
    }
    private var keyList: String { move.keyNames.map(q).joined(separator: ", ") }
    private var movedList: String { move.movedNames.map(q).joined(separator: ", ") }

    // MARK: expand

    public var createTable: String {
        var lines = move.key.map { "\(q($0.name)) \($0.type)\(collation($0)) NOT NULL" }
        lines += move.moved.map { column in
            "\(q(column.name)) \(column.type)\(collation(column))"
                + (column.defaultExpression.map { " DEFAULT \($0)" } ?? "") + (column.notNull ? " NOT NULL" : "")
        }
        lines.append("PRIMARY KEY (\(keyList))")
        lines.append("FOREIGN KEY (\(keyList)) REFERENCES \(source) (\(keyList)) ON DELETE CASCADE ON UPDATE CASCADE")
        lines += move.checks.map { "CONSTRAINT \(q($0.name)) \($0.definition)" }
        return "CREATE TABLE \(target) (\n  " + lines.joined(separator: ",\n  ") + "\n)"
    }

    /// The new table's policy when the source has row-level security: a row of the new table
    /// is seen, and may be written, only by whom the source's policies show its source row
    /// (the subquery reads the source under the source's own policies, as the querying role).
    public static let policyName = "source_row_visible"

    public var sourceRowVisible: String {
        let alias = move.target.name == "bellows_source" ? "bellows_source_row" : "bellows_source"
        return "EXISTS (SELECT FROM \(source) AS \(alias) WHERE "
            + move.key.map { "\(alias).\(q($0.name)) = \(q(move.target.name)).\(q($0.name))" }.joined(separator: " AND ") + ")"
    }

    /// The source's row-level security carried to the new table (none without it).
    public var rowSecurityStatements: [PhaseStatement] {
        guard let security = move.rowSecurity else { return [] }
        var statements = [PhaseStatement(.transaction, "the source's row-level security on the new table", "ALTER TABLE \(target) ENABLE ROW LEVEL SECURITY")]
        if security.forced {
            statements.append(PhaseStatement(.transaction, "forced for the owner too, as on the source", "ALTER TABLE \(target) FORCE ROW LEVEL SECURITY"))
        }
        statements.append(PhaseStatement(.transaction, "a row of the new table only for whom the source's policies show its source row",
                                         "CREATE POLICY \(q(Self.policyName)) ON \(target)\n  USING (\(sourceRowVisible))\n  WITH CHECK (\(sourceRowVisible))"))
        return statements
    }

    /// Source insert, update or delete → the new table's row upserted or deleted.
    public var sourceFunctionSQL: String {
        let new = move.key + move.moved
        let code = """
        DECLARE
          bellows_previous text := current_setting('bellows.backfill', true);
        BEGIN
          IF TG_OP = 'UPDATE' AND \(row("OLD", new)) IS NOT DISTINCT FROM \(row("NEW", new)) THEN
            RETURN NULL;
          END IF;
          PERFORM set_config('bellows.backfill', \(SQLQuote.literal(marker)), true);
          IF TG_OP = 'DELETE' THEN
            DELETE FROM \(target) WHERE \(keyMatch("", "OLD"));
          ELSE
            INSERT INTO \(target) (\(keyList), \(movedList))
              VALUES (\(new.map { "NEW.\(q($0.name))" }.joined(separator: ", ")))
              ON CONFLICT (\(keyList)) DO UPDATE SET \(move.moved.map { "\(q($0.name)) = EXCLUDED.\(q($0.name))" }.joined(separator: ", "));
          END IF;
          PERFORM set_config('bellows.backfill', coalesce(bellows_previous, ''), true);
          RETURN NULL;
        END
        """
        return function(sourceFunction, code, definer: true)
    }

    private func keyText(_ record: String) -> String {
        "concat_ws(', ', " + move.key.map { "\(record).\(q($0.name))::text" }.joined(separator: ", ") + ")"
    }

    /// The key of the source row in the dynamic statements, `NEW` their `$1`.
    private var dynamicKeyMatch: String { keyMatch("", "($1)") }

    /// The moved columns a new-table write changes (all of them for an insert), collected for
    /// the source's UPDATE: the writer needs privileges on those alone.
    private var changedColumns: String {
        move.moved.map { column in
            "IF TG_OP = 'INSERT' OR \(compared("OLD", column)) IS DISTINCT FROM \(compared("NEW", column)) THEN\n"
                + "    bellows_set := array_append(bellows_set, \(SQLQuote.literal("\(q(column.name)) = ($1).\(q(column.name))")));\n"
                + "    bellows_left := array_append(bellows_left, \(SQLQuote.literal(compared("", column))));\n"
                + "    bellows_right := array_append(bellows_right, \(SQLQuote.literal(compared("($1)", column))));\n"
                + "  END IF;"
        }.joined(separator: "\n  ")
    }

    /// New table insert or update → the source row's moved columns, written with the writer's
    /// rights: the source's privileges and row-level security decide, and a row they hide or
    /// keep from this writer fails the write (42501) instead of being written behind them
    /// (hostile-h 02). A delete of a row whose source row is still there is refused (55000):
    /// it would leave the source row without its counterpart (hostile-h 03); a delete that
    /// follows the source row's (the foreign key's cascade) goes through.
    public var targetFunctionSQL: String {
        let code = """
        DECLARE
          bellows_previous text := current_setting('bellows.backfill', true);
          bellows_written bigint;
          bellows_same boolean;
          bellows_set text[] := '{}';
          bellows_left text[] := '{}';
          bellows_right text[] := '{}';
        BEGIN
          IF TG_OP = 'DELETE' THEN
            IF EXISTS (SELECT FROM \(source) WHERE \(keyMatch("", "OLD"))) THEN
              RAISE EXCEPTION USING ERRCODE = '55000',
                MESSAGE = format('row (%s) of %s cannot be deleted while plan %s moves its columns: its row in %s is still there', \(keyText("OLD")), \(SQLQuote.literal(move.targetName)), \(SQLQuote.literal(id)), \(SQLQuote.literal(move.sourceName))),
                HINT = \(SQLQuote.literal("until the plan is contracted, clear the moved columns with an UPDATE (to NULL or their defaults), or delete the row of \(move.sourceName) (its row here goes with it)"));
            END IF;
            RETURN NULL;
          END IF;
          \(changedColumns)
          IF cardinality(bellows_set) = 0 THEN
            RETURN NULL;
          END IF;
          PERFORM set_config('bellows.backfill', \(SQLQuote.literal(marker)), true);
          EXECUTE \(SQLQuote.literal("UPDATE \(source) SET ")) || array_to_string(bellows_set, ', ')
            || \(SQLQuote.literal(" WHERE \(dynamicKeyMatch) AND ROW(")) || array_to_string(bellows_left, ', ')
            || ') IS DISTINCT FROM ROW(' || array_to_string(bellows_right, ', ') || ')' USING NEW;
          GET DIAGNOSTICS bellows_written = ROW_COUNT;
          PERFORM set_config('bellows.backfill', coalesce(bellows_previous, ''), true);
          IF bellows_written = 0 THEN
            EXECUTE \(SQLQuote.literal("SELECT EXISTS (SELECT FROM \(source) WHERE \(dynamicKeyMatch) AND ROW(")) || array_to_string(bellows_left, ', ')
              || ') IS NOT DISTINCT FROM ROW(' || array_to_string(bellows_right, ', ') || '))' INTO bellows_same USING NEW;
          END IF;
          IF bellows_written = 0 AND NOT bellows_same THEN
            RAISE EXCEPTION USING ERRCODE = '42501',
              MESSAGE = format('role %s may not write row (%s) of %s: until plan %s is contracted a write here writes the moved columns of its row in %s, which row-level security hides from the role or keeps it from updating', current_user, \(keyText("NEW")), \(SQLQuote.literal(move.targetName)), \(SQLQuote.literal(id)), \(SQLQuote.literal(move.sourceName)));
          END IF;
          RETURN NULL;
        END
        """
        return function(targetFunction, code, definer: false)
    }

    private func function(_ name: String, _ code: String, definer: Bool) -> String {
        let tag = PhaseSQL.dollarTag(notIn: code)
        // The source's function is SECURITY DEFINER: it mirrors a write the source's privileges
        // and policies already allowed into the new table (the expanding role's), whose grants
        // may lag. The new table's runs as the writer: a definer would write source rows the
        // writer may not (hostile-h 02). The search_path is pinned for both.
        return "CREATE FUNCTION \(name)() RETURNS trigger\nLANGUAGE plpgsql \(definer ? "SECURITY DEFINER" : "SECURITY INVOKER") SET search_path = \(searchPath) AS \(tag)\n\(code)\n\(tag)"
    }

    /// The source's column privileges on the key and the moved columns, on the same columns
    /// of the new table: one GRANT per role and privilege, the columns in the new table's order.
    public var columnGrantStatements: [PhaseStatement] {
        struct Grant: Hashable { var grantee: String; var privilege: String }
        let order = move.keyNames + move.movedNames
        var grants: [Grant] = []
        var columns: [Grant: Set<String>] = [:]
        for grant in move.columnGrants where order.contains(grant.column) {
            let key = Grant(grantee: grant.grantee, privilege: grant.privilege)
            if columns[key] == nil { grants.append(key) }
            columns[key, default: []].insert(grant.column)
        }
        return grants.map { grant in
            let list = order.filter { columns[grant]?.contains($0) == true }.map(q).joined(separator: ", ")
            return PhaseStatement(.transaction, "the source's column privileges on the new table's columns",
                                  "GRANT \(grant.privilege) (\(list)) ON \(target) TO \(grant.grantee == "PUBLIC" ? "PUBLIC" : q(grant.grantee))")
        }
    }

    public var expandTransaction: [PhaseStatement] {
        var statements = [PhaseStatement(.transaction, "the new table, keyed by \(move.sourceName)'s key, with the moved columns", createTable)]
        for column in move.moved {
            if let comment = move.source.details?.columns[column.name]?.comment {
                statements.append(PhaseStatement(.transaction, "the moved column's comment",
                                                 "COMMENT ON COLUMN \(target).\(q(column.name)) IS \(SQLQuote.literal(comment))"))
            }
        }
        statements += rowSecurityStatements
        for grant in move.tableGrants {
            statements.append(PhaseStatement(.transaction, "the source table's privileges on the new table",
                                             "GRANT \(grant.privilege) ON \(target) TO \(grant.grantee == "PUBLIC" ? "PUBLIC" : q(grant.grantee))"))
        }
        statements += columnGrantStatements
        statements += [
            PhaseStatement(.transaction, "the function keeping the new table in step with the source", sourceFunctionSQL),
            PhaseStatement(.transaction, "the function keeping the source in step with the new table", targetFunctionSQL),
            PhaseStatement(.transaction, "source writes reach the new table",
                           "CREATE TRIGGER \(q(triggerName)) AFTER INSERT OR UPDATE OR DELETE ON \(source)\n  FOR EACH ROW WHEN (\(notMarked))\n  EXECUTE FUNCTION \(sourceFunction)()"),
            PhaseStatement(.transaction, "it fires for every writer", "ALTER TABLE \(source) ENABLE ALWAYS TRIGGER \(q(triggerName))"),
            PhaseStatement(.transaction, "new table writes reach the source",
                           "CREATE TRIGGER \(q(triggerName)) AFTER INSERT OR UPDATE OR DELETE ON \(target)\n  FOR EACH ROW WHEN (\(notMarked))\n  EXECUTE FUNCTION \(targetFunction)()"),
            PhaseStatement(.transaction, "it fires for every writer", "ALTER TABLE \(target) ENABLE ALWAYS TRIGGER \(q(triggerName))"),
        ]
        return statements
    }

    // MARK: backfill

    /// The largest key when the backfill starts: where the walk ends.
    public var backfillUpperBound: String {
        "SELECT ARRAY[\(move.key.map { KeysetSQL.exactText(q($0.name), column: $0) }.joined(separator: ", "))] AS max_key FROM \(source) ORDER BY "
            + move.keyNames.map { "\(q($0)) DESC" }.joined(separator: ", ") + " LIMIT 1"
    }

    /// One keyset batch: copies the source rows after the cursor (none in the first batch) up
    /// to the bound, `LIMIT` rows, locking their keys (a concurrent delete is skipped, not
    /// copied), into the new table; a row the trigger already wrote is newer and kept.
    /// Parameters: the cursor's key (not in the first batch), the bound's key, the batch size.
    public func backfillBatch(first: Bool) -> String {
        let n = move.key.count
        func parameters(from start: Int) -> String {
            "ROW(" + move.key.enumerated().map { "$\(start + $0.offset)::\($0.element.type)" }.joined(separator: ", ") + ")"
        }
        let keyRow = "ROW(\(keyList))"
        let bound = first ? 1 : n + 1
        let condition = (first ? "" : "\(keyRow) > \(parameters(from: 1)) AND ") + "\(keyRow) <= \(parameters(from: bound))"
        return """
        WITH batch AS (
          SELECT \(keyList), \(movedList) FROM \(source)
          WHERE \(condition)
          ORDER BY \(keyList) LIMIT $\(bound + n) FOR KEY SHARE
        ), copied AS (
          INSERT INTO \(target) (\(keyList), \(movedList))
          SELECT \(keyList), \(movedList) FROM batch
          ON CONFLICT (\(keyList)) DO NOTHING RETURNING 1
        )
        SELECT (SELECT count(*) FROM batch) AS scanned, (SELECT count(*) FROM copied) AS copied,
               (SELECT ARRAY[\(move.key.map { KeysetSQL.exactText(q($0.name), column: $0) }.joined(separator: ", "))] FROM batch ORDER BY \(move.keyNames.map { "\(q($0)) DESC" }.joined(separator: ", ")) LIMIT 1) AS last_key
        """
    }

    // MARK: verify

    private func keyArray(_ alias: String) -> String {
        "ARRAY[" + move.keyNames.map { "\(alias).\(q($0))::text" }.joined(separator: ", ") + "]"
    }

    /// Source rows without their counterpart, or with other values: how many, and the first key.
    public var verifyCounterparts: String {
        let sourceRow = row("s", move.moved), targetRow = row("t", move.moved)
        return """
        SELECT count(*) OVER () AS n, count(*) FILTER (WHERE t.\(q(move.keyNames[0])) IS NULL) OVER () AS missing,
               \(keyArray("s")) AS example, t.\(q(move.keyNames[0])) IS NULL AS example_missing
        FROM \(source) AS s LEFT JOIN \(target) AS t ON \(keyMatch("s", "t"))
        WHERE t.\(q(move.keyNames[0])) IS NULL OR \(sourceRow) IS DISTINCT FROM \(targetRow)
        ORDER BY \(move.keyNames.map { "s.\(q($0))" }.joined(separator: ", ")) LIMIT 1
        """
    }

    /// Rows of the new table whose source row is gone: how many, and the first key.
    public var verifyOrphans: String {
        """
        SELECT count(*) OVER () AS n, \(keyArray("t")) AS example
        FROM \(target) AS t WHERE NOT EXISTS (SELECT FROM \(source) AS s WHERE \(keyMatch("s", "t")))
        ORDER BY \(move.keyNames.map { "t.\(q($0))" }.joined(separator: ", ")) LIMIT 1
        """
    }

    /// Both triggers exist and fire for every writer: how many of the two do.
    public var verifyTriggers: String {
        """
        SELECT count(*) AS n FROM pg_trigger
        WHERE tgname = \(SQLQuote.literal(triggerName)) AND tgenabled = 'A' AND tgrelid IN (to_regclass(\(SQLQuote.literal(source))), to_regclass(\(SQLQuote.literal(target))))
        """
    }

    // MARK: contract and rollback

    private var dropTriggers: [PhaseStatement] {
        [
            PhaseStatement(.transaction, "the source's trigger", "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(source)"),
            PhaseStatement(.transaction, "the new table's trigger", "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(target)"),
            PhaseStatement(.transaction, "their functions", "DROP FUNCTION IF EXISTS \(sourceFunction)(), \(targetFunction)()"),
        ]
    }

    /// Contract takes the new table first: a writer of the new table holds it and then, through
    /// its trigger, the source; taking them in the other order would deadlock with it. (The old
    /// version, writing the source then the new table, is gone by contract.)
    public var contractTransaction: [PhaseStatement] {
        [PhaseStatement(.transaction, "the new table first, in the order its writers take the two tables",
                        "LOCK TABLE \(target) IN SHARE ROW EXCLUSIVE MODE")]
            + dropTriggers + [PhaseStatement(.transaction, "the moved columns leave the source (the new table's foreign key stays)",
                                       "ALTER TABLE \(source)\n  " + move.movedNames.map { "DROP COLUMN \(q($0))" }.joined(separator: ",\n  "))]
    }

    /// First, alone, the new table's trigger: its writers then no longer reach the source, and
    /// the transaction that follows (source first, then the new table, as the old version's
    /// writes take them) waits for them without deadlocking.
    public var rollbackTransaction: [PhaseStatement] {
        [PhaseStatement(.standalone, "the new table's trigger, first and alone", "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(target)"),
         dropTriggers[0], PhaseStatement(.transaction, "the new table", "DROP TABLE IF EXISTS \(target)"), dropTriggers[2]]
    }

    public func statements(for phase: PhaseCommand) -> [PhaseStatement] {
        switch phase {
        case .expand: return expandTransaction
        case .backfill: return [PhaseStatement(.transaction, "the walk's end: the largest key now", backfillUpperBound),
                                PhaseStatement(.transaction, "one keyset batch (later batches start after the cursor)", backfillBatch(first: true))]
        case .verify: return [PhaseStatement(.transaction, "every source row has its counterpart, with equal values", verifyCounterparts),
                              PhaseStatement(.transaction, "no row of the new table is orphaned", verifyOrphans)]
        case .contract: return contractTransaction
        case .rollback: return rollbackTransaction
        }
    }

    /// What expand decides from the database and what changes for the applications from it
    /// on (render's comments, expand's report).
    public var notes: [String] {
        var notes: [String] = []
        if move.rowSecurity == nil {
            notes.append("if \(move.sourceName) has row-level security, expand enables it on \(move.targetName) too (FORCE as on the source) with policy "
                + "\(Self.policyName): a row only for whom the source's policies show its source row (USING and WITH CHECK \(sourceRowVisible))")
        }
        notes.append("from expand on, TRUNCATE \(move.sourceName) fails (0A000: \(move.targetName)'s foreign key references it) "
            + "unless it is TRUNCATE … CASCADE, which empties \(move.targetName) with it (row triggers do not fire on TRUNCATE)")
        notes.append("until contract, a DELETE from \(move.targetName) of a row whose source row is there is refused (55000): clear the moved columns with an UPDATE, or delete the source row")
        notes.append("until contract, a write to \(move.targetName) writes the moved columns of the source row with the writer's rights: "
            + "the writer needs SELECT on the key and UPDATE and SELECT on the moved columns it changes in \(move.sourceName), and its row-level security decides")
        return notes
    }

    /// `bellows render`'s text for a move plan.
    public func rendered(phases: [PhaseCommand]) -> String {
        var out = "-- plan \(id): move \(move.movedNames.joined(separator: ", ")) from \(move.sourceName) to \(move.targetName) (sha256 \(move.plan.checksum.prefix(16)))\n"
        out += "-- the triggers stand aside while bellows.backfill = '\(marker)': the backfill's session, and each trigger around its own write\n"
        for phase in phases {
            out += "\n-- ===== \(phase.rawValue) =====\n"
            let transactional = phase == .expand || phase == .contract || phase == .rollback
            for statement in statements(for: phase) where statement.mode == .standalone {
                out += "-- \(statement.purpose) (outside a transaction)\n\(statement.sql);\n"
            }
            if phase == .expand {
                out += notes.map { "-- \($0)\n" }.joined()
            }
            if transactional { out += "BEGIN;\nSET LOCAL lock_timeout = '\(move.plan.backfill.lockTimeoutMilliseconds)ms';\n" }
            for statement in statements(for: phase) where statement.mode == .transaction {
                out += "-- \(statement.purpose)\n\(statement.sql);\n"
            }
            if transactional { out += "COMMIT;\n" }
        }
        return out
    }
}
