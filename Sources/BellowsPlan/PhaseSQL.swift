import BellowsSQL

/// One statement a phase runs, and how.
public struct PhaseStatement: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable {
        /// Part of the phase's single transaction, under a short `lock_timeout`.
        case transaction
        /// Alone, outside any transaction block (`CONCURRENTLY`, `VALIDATE CONSTRAINT`).
        case standalone
    }

    public var mode: Mode
    public var purpose: String
    public var sql: String

    public init(_ mode: Mode, _ purpose: String, _ sql: String) {
        self.mode = mode
        self.purpose = purpose
        self.sql = sql
    }
}

/// The SQL of each phase of a transition, rendered deterministically: what `bellows render`
/// prints is what the engine runs.
public struct PhaseSQL: Sendable {
    public let transition: Transition

    public init(_ transition: Transition) { self.transition = transition }

    private var table: String { transition.quotedTable }
    private var tableName: String { transition.table.name }
    private func q(_ name: String) -> String { SQLQuote.identifier(name) }

    public var triggerName: String { TransitionNames.trigger(for: transition.plan) }
    /// The trigger's name in plans expanded before hostile-d 22; contract and rollback drop it too.
    public var legacyTriggerName: String { TransitionNames.legacyTrigger(for: transition.plan) }
    /// The view that records in `pg_depend` what the plan's `up`/`down` use (hostile-d 08).
    public var dependencyViewName: String { TransitionNames.transitional("plan_\(transition.plan.id)") }
    public var qualifiedDependencyView: String { SQLQuote.qualified(schema: "bellows", name: dependencyViewName) }

    /// The dual-write function is PL/pgSQL, resolved at each write: nothing in `pg_depend` kept a
    /// migration from dropping, renaming or moving a function, operator or type an `up` or `down`
    /// calls, and every write to the table then failed (hostile-d 08). Expand creates a view in
    /// the `bellows` schema computing every expression over the table (`WHERE false`, so it never
    /// reads a row): PostgreSQL records what it uses and refuses such a `DROP` (2BP01, naming the
    /// view, which names the plan). It depends on the columns the expressions read, not on the
    /// others (no `*`); contract and rollback drop it first, before the columns.
    public var dependencyView: [PhaseStatement] {
        guard transition.needsTrigger else { return [] }
        // A bare column (a plain rename's up and down) uses nothing a migration could drop.
        func usesMore(_ expression: String) -> Bool {
            let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
            return !(tokens.count == 1 && tokens[0].identifierValue != nil)
        }
        let values = transition.groups.flatMap { group in
            group.targets.compactMap { t in t.up.flatMap { usesMore($0) ? "(\($0))::\(t.type)" : nil } }
                + group.downs.compactMap { usesMore($0.expression) ? "(\($0.expression))::\($0.type)" : nil }
        }
        guard !values.isEmpty else { return [] }
        let columns = values.enumerated().map { "\($0.element) AS \(q("e\($0.offset + 1)"))" }
        let comment = "Bellows plan \(transition.plan.id) is in flight on \(transition.table.schema).\(transition.table.name): its dual-write trigger "
            + "calls what this view uses, so PostgreSQL refuses to drop it; contract or rollback of the plan drops the view"
        return [
            PhaseStatement(.transaction, "record what up and down use, so that PostgreSQL refuses to drop it while the plan is in flight",
                           "CREATE VIEW \(qualifiedDependencyView) AS\n  SELECT \(columns.joined(separator: ",\n         "))\n  FROM \(table) AS bellows_row WHERE false"),
            PhaseStatement(.transaction, "say whose view it is", "COMMENT ON VIEW \(qualifiedDependencyView) IS \(SQLQuote.literal(comment))"),
        ]
    }

    /// The schemas `bellows render` shows the plan pinned to: a session's default path
    /// (`"$user", public`) on a database without a schema named after the user.
    public static let defaultSearchPath = ["public"]

    /// The `search_path` the plan's expressions are evaluated under in every phase and in the
    /// trigger (a `SET` clause of its function): `pg_catalog` first, so no schema a writer can
    /// create objects in overrides a built-in function or operator, then the schemas the
    /// expanding session resolved names in, and `pg_temp` last. The `SET` clause costs each
    /// call of the function a GUC save and restore: about 14 µs a row on a 20,000-row UPDATE
    /// through a one-assignment trigger (medians of 12 interleaved runs on a loaded 2-core
    /// machine: 831 ms without, 1,120 ms with), within the noise of a single-row UPDATE's
    /// latency. Qualifying every name instead cannot cover operators and types, nor a writer
    /// whose path lists `pg_catalog` after its own schema. A plain rename's trigger is not
    /// called at all for writes that leave the two columns agreeing (its WHEN).
    public var searchPath: String { Self.searchPathSQL(transition.searchPath ?? Self.defaultSearchPath) }

    /// The settings that change what an expression computes besides names: a date or time's
    /// text and a text's date (`TimeZone`, `DateStyle`, `IntervalStyle`), a number's, money's or
    /// date's text (`lc_numeric`, `lc_monetary`, `lc_time`), a float's text
    /// (`extra_float_digits`), a bytea's (`bytea_output`), `to_tsvector(text)`'s configuration,
    /// an XML value's parse (`xmloption`) and binary text (`xmlbinary`), what `'… IST'` means
    /// (`timezone_abbreviations`, hostile-f 02), how a string literal with a backslash parses
    /// (`standard_conforming_strings`: PL/pgSQL parses the body under the caller's, hostile-f 09),
    /// `'{NULL}'`'s element (`array_nulls`), `x = NULL` (`transform_null_equals`) and
    /// `quote_ident`'s quotes (`quote_all_identifiers`, hostile-s 4). The
    /// trigger's function keeps the expanding session's values (`Transition.pinnedValues`,
    /// kept in the plan's state), and every later phase's session takes them from the state,
    /// so a writer whose session sets its own `TimeZone` gets what the backfill and verify
    /// compute (hostile-d 30). Every plan that computes pins all of them (a domain or a
    /// composite over a time type hides what an expression touches, hostile-e 01), unless
    /// expand read from the compiled expressions that none can matter
    /// (`SettingsIndependence`, `Transition.settingsIndependent`). The function
    /// compares the writer's values with the kept ones (literals in its body) and sets and puts
    /// back only those that differ (`settingsPrologue`); `standard_conforming_strings` alone
    /// stays a `SET … FROM CURRENT` clause, because PL/pgSQL parses the body under it
    /// (hostile-f 09). A `SET` clause is applied on every call even when nothing changes:
    /// fifteen of them cost an `UPDATE` of 20,000 rows through an `integer → bigint` trigger
    /// 3.3 s (`timezone_abbreviations` re-reads its file, about 150–300 µs a call), the
    /// comparison 0.35 s against 0.28 s for the same trigger pinning nothing and 0.15 s with no
    /// trigger (issue 22). Expand says which values it keeps and
    /// warns about one the operator's session chose (hostile-f 07); a plan that only copies values (a
    /// rename, an in-place change without `up`) depends on none and pins none.
    public static let expressionSettings = ["timezone", "datestyle", "intervalstyle", "lc_monetary", "lc_numeric", "lc_time",
                                            "extra_float_digits", "bytea_output", "default_text_search_config", "xmloption", "xmlbinary",
                                            "timezone_abbreviations", "standard_conforming_strings", "array_nulls",
                                            "transform_null_equals", "quote_all_identifiers"]

    /// The settings this plan's trigger pins: none when every value is copied as it is, or
    /// when expand found the expressions independent of every setting.
    public var pinnedSettings: [String] {
        guard !transition.settingsIndependent else { return [] }
        let copies = transition.groups.allSatisfy { group in
            group.targets.allSatisfy { t in
                guard let up = t.up else { return t.existing }
                return group.sources.count == 1 && DefaultFit.isIdentity(up, column: group.sources[0])
                    && transition.table.column(group.sources[0]).map { DefaultFit.sameType($0.type, t.type) } == true
            } && group.downs.allSatisfy { down in
                group.targets.count == 1 && DefaultFit.isIdentity(down.expression, column: group.targets[0].physical)
                    && DefaultFit.sameType(down.type, group.targets[0].type)
            }
        }
        return copies ? [] : Self.expressionSettings
    }

    /// Every setting a trigger function may pin.
    public static let pinnableSettings: Set<String> = Set(expressionSettings)

    /// The pinned settings the function keeps with a `SET … FROM CURRENT` clause rather than in
    /// its body: PL/pgSQL parses the body's statements under `standard_conforming_strings`, before
    /// the body could set it (hostile-f 09); it is cheap to apply.
    public static let settingsPinnedByClause: Set<String> = ["standard_conforming_strings"]

    /// PostgreSQL's built-in values of the pinned settings: offline (`bellows render`, no
    /// session) the function shows these where expand renders its session's.
    public static let builtInSettingValues: [String: String] = [
        "timezone": "GMT", "datestyle": "ISO, MDY", "intervalstyle": "postgres", "lc_monetary": "C", "lc_numeric": "C",
        "lc_time": "C", "extra_float_digits": "1", "bytea_output": "hex", "default_text_search_config": "pg_catalog.simple",
        "xmloption": "content", "xmlbinary": "base64", "timezone_abbreviations": "Default", "standard_conforming_strings": "on",
        "array_nulls": "on", "transform_null_equals": "off", "quote_all_identifiers": "off",
    ]

    /// The pinned settings the function sets in its body, with the values it keeps: the
    /// expanding session's, or offline PostgreSQL's built-in ones.
    public var pinnedInBody: [(name: String, value: String)] {
        pinnedSettings.filter { !Self.settingsPinnedByClause.contains($0) }.map { name in
            (name, transition.pinnedValues?[name] ?? Self.builtInSettingValues[name] ?? "")
        }
    }

    /// The start and end of the trigger's function body for the settings it keeps in it: when
    /// the writer's session has another value of one (a single comparison otherwise), set the
    /// kept one for the rest of the call and put the writer's back before `RETURN` (an error in
    /// between aborts the (sub)transaction, which reverts `set_config`). Only settings that
    /// differ are set: applying `timezone_abbreviations` re-reads its file.
    var settingsPrologue: (declare: [String], start: [String], end: [String]) {
        let kept = pinnedInBody
        guard !kept.isEmpty else { return ([], [], []) }
        let lit = SQLQuote.literal
        let current = kept.map { "current_setting(\(lit($0.name)))" }
        let differs = zip(current, kept).map { "\($0) <> \(lit($1.value))" }.joined(separator: "\n     OR ")
        let origin = transition.pinnedValues == nil ? "PostgreSQL's built-in values here; expand renders its session's" : "the expanding session's"
        var start = ["  -- the settings expand kept (\(origin)): set for a writer whose session has others,",
                     "  -- the writer's put back before returning",
                     "  IF \(differs) THEN",
                     "    bellows_writer := ARRAY[\(current.joined(separator: ", "))];"]
        var end = ["  IF bellows_writer IS NOT NULL THEN"]
        for (index, setting) in kept.enumerated() {
            let value = lit(setting.value), name = lit(setting.name)
            start.append("    IF bellows_writer[\(index + 1)] <> \(value) THEN PERFORM set_config(\(name), \(value), true); END IF;")
            end.append("    IF bellows_writer[\(index + 1)] <> \(value) THEN PERFORM set_config(\(name), bellows_writer[\(index + 1)], true); END IF;")
        }
        start.append("  END IF;")
        end.append("  END IF;")
        return (["  bellows_writer text[];"], start, end)
    }

    public static func searchPathSQL(_ schemas: [String]) -> String {
        (["pg_catalog"] + schemas.filter { $0 != "pg_catalog" && !$0.hasPrefix("pg_temp") }.map(SQLQuote.identifier) + ["pg_temp"])
            .joined(separator: ", ")
    }

    /// The value of `bellows.backfill` during this plan's backfill batches: its trigger alone
    /// stands aside (the batch computes exactly what it would), other plans' triggers on the
    /// same table keep working.
    public var backfillMarker: String { transition.plan.id }
    public var functionName: String { TransitionNames.function(for: transition.plan) }
    public var qualifiedFunction: String { SQLQuote.qualified(schema: "bellows", name: functionName) }

    // MARK: Names of the constraints and indexes a target gets

    public func checkName(_ t: TransitionTarget) -> (transitional: String, final: String) {
        (TransitionNames.transitional(t.checkName), t.checkName)
    }

    public func foreignKeyName(_ t: TransitionTarget) -> (transitional: String, final: String) {
        (TransitionNames.transitional(t.foreignKeyName), t.foreignKeyName)
    }

    public func uniqueName(_ t: TransitionTarget) -> (transitional: String, final: String) {
        (TransitionNames.transitional(t.uniqueName), t.uniqueName)
    }

    /// The constraint that makes `t` NOT NULL during the transition (a CHECK or, on PostgreSQL 18,
    /// a NOT NULL constraint; see `NotNullShape`).
    public func notNullCheckName(_ t: TransitionTarget) -> String {
        TransitionNames.notNullCheck(table: tableName, column: t.final)
    }

    /// The NOT NULL constraint's transitional name and, in the `.notNull` shape, the name
    /// contract gives it: PostgreSQL's own for the final column.
    public func notNullName(_ t: TransitionTarget) -> (transitional: String, final: String) {
        (notNullCheckName(t), t.notNullName ?? TransitionNames.notNullConstraint(table: tableName, column: t.final))
    }

    /// Whether NOT NULL is added as PostgreSQL 18's NOT VALID NOT NULL constraint.
    private var nativeNotNull: Bool { transition.notNullShape == .notNull }

    /// A plain index rebuilt on the new column keeps its name, with the column's token renamed
    /// when the name contains it (`items_parent_id_idx` → `items_owner_id_idx`; `items_by_parent`
    /// stays, hostile-d 04); the old one goes with the old column before the new one takes it.
    public func rebuiltIndexName(_ t: TransitionTarget, _ index: IndexInfo) -> (transitional: String, final: String) {
        let final = TransitionNames.fitted(TransitionNames.renamingColumns(in: index.name, [index.columns[0]: t.final]))
        return (TransitionNames.transitional(final), final)
    }

    /// Every constraint the transition adds NOT VALID, by its transitional name.
    public var addedConstraints: [String] {
        transition.allTargets.flatMap { t -> [String] in
            var names: [String] = []
            if t.addsNotNull { names.append(notNullCheckName(t)) }
            if t.check != nil { names.append(checkName(t).transitional) }
            if t.foreignKey != nil { names.append(foreignKeyName(t).transitional) }
            return names
        } + transition.recreatedConstraints.filter { !$0.notValid }.map(\.transitional)
            + transition.constraints.filter(\.addedNotValid).map(\.transitional)
    }

    /// Every index the transition builds concurrently, with its definition.
    public var addedIndexes: [(name: String, sql: String)] {
        transition.allTargets.flatMap { t -> [(name: String, sql: String)] in
            var list: [(name: String, sql: String)] = []
            if t.unique {
                let name = uniqueName(t).transitional
                list.append((name, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \(q(name)) ON \(table) (\(q(t.physical)))"))
            }
            for index in t.rebuiltIndexes {
                let name = rebuiltIndexName(t, index).transitional
                list.append((name, "CREATE INDEX CONCURRENTLY IF NOT EXISTS \(q(name)) ON \(table) (\(q(t.physical)))"))
            }
            return list
        } + transition.recreatedIndexes.map { ($0.transitional, $0.create) }
            + transition.constraints.filter { $0.kind == .unique }.map {
                ($0.transitional, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \(q($0.transitional)) ON \(table) (\($0.definition))")
            }
    }

    /// The empty copy of the table that expand's index probes build on.
    public static let indexProbeTable = "pg_temp.bellows_index_probe"

    /// Each index of ``addedIndexes`` as a plain `CREATE INDEX` on ``indexProbeTable`` (an empty
    /// copy of the table with the new columns, made in expand's transaction): an expression or
    /// predicate that does not fit the new column's type (`status = 'open'::an_enum` once
    /// `status` is `text`) fails there, before anything is committed, instead of in the
    /// concurrent build after expand's commit (hostile-f 06). `index` is the original index's
    /// name for a recreated one, else the transitional name.
    public var indexProbes: [(index: String, sql: String)] {
        let originals = Dictionary(transition.recreatedIndexes.map { ($0.transitional, $0.original) }, uniquingKeysWith: { first, _ in first })
        return addedIndexes.compactMap { added in
            guard let range = added.sql.range(of: "CONCURRENTLY IF NOT EXISTS \(q(added.name)) ON \(table) ") else { return nil }
            return (originals[added.name] ?? added.name, added.sql.replacingCharacters(in: range, with: "ON \(Self.indexProbeTable) "))
        }
    }

    /// The names the transition's indexes and constraints take at contract: `relation` for an
    /// index (unique in the schema), else a constraint (unique in the table). Each must be free
    /// at expand, unless contract frees it by dropping the old columns.
    public var finalNames: [(name: String, relation: Bool)] {
        var names: [(name: String, relation: Bool)] = []
        for t in transition.allTargets {
            if t.unique { names += [(t.uniqueName, true), (t.uniqueName, false)] }
            if t.check != nil { names.append((t.checkName, false)) }
            if t.foreignKey != nil { names.append((t.foreignKeyName, false)) }
            if t.addsNotNull && nativeNotNull { names.append((notNullName(t).final, false)) }
            names += t.rebuiltIndexes.map { (rebuiltIndexName(t, $0).final, true) }
        }
        for index in transition.recreatedIndexes {
            names.append((index.final, true))
            if index.constraintSuffix != nil { names.append((index.final, false)) }
        }
        names += transition.recreatedConstraints.map { ($0.final, false) }
        for constraint in transition.constraints {
            switch constraint.kind {
            case .unique: names += [(constraint.final, true), (constraint.final, false)]
            case .foreignKey, .check: names.append((constraint.final, false))
            case .drop, .dropNotNull: break
            }
        }
        let freed = Set(namesFreedAtContract)
        return names.filter { !freed.contains($0.name) }
    }

    /// Indexes and constraints of the table that contract drops with the old columns.
    public var namesFreedAtContract: [String] {
        let table = transition.table
        let dropped = Set(transition.droppedColumns)
        return table.indexes.filter { !dropped.isDisjoint(with: table.columns(of: $0)) }.map(\.name)
            + table.constraints.filter { !dropped.isDisjoint(with: $0.columns) }.map(\.name)
            + transition.constraints.filter { $0.kind == .drop }.map(\.final)
            + dropped.sorted().compactMap { table.details?.columns[$0]?.notNullConstraint }
    }

    // MARK: expand

    /// Expand's statements: its transaction (`expandTransaction`), the index builds, then each
    /// deferrable constraint attached to its built index (`expandAttachments`).
    public var expand: [PhaseStatement] {
        expandTransaction
            + addedIndexes.map { PhaseStatement(.standalone, "build an index without blocking writes", $0.sql) }
            + expandAttachments
    }

    /// A deferrable UNIQUE constraint's index, once built, becomes the (transitional)
    /// constraint, deferrable as the old one: a plain index checks every row at once, and old
    /// code's statements that rely on the deferral (`SET seat = seat + 1`) would fail from the
    /// backfill on. Each in a short transaction of its own; an index not yet attached checks
    /// at once, during its own build.
    public var expandAttachments: [PhaseStatement] {
        transition.recreatedIndexes.filter(\.attachesAtExpand).map { index in
            PhaseStatement(.transaction, "the deferrable constraint over its built index, deferrable as the old one",
                           "ALTER TABLE \(table) ADD CONSTRAINT \(q(index.transitional)) UNIQUE USING INDEX \(q(index.transitional))\(index.constraintSuffix ?? "")")
        }
    }

    /// Expand's one transaction: the new columns, the constraints added NOT VALID, the grants,
    /// the dual-write function and trigger.
    public var expandTransaction: [PhaseStatement] {
        var statements: [PhaseStatement] = []
        var clauses: [String] = []
        for t in transition.newTargets {
            clauses.append("ADD COLUMN IF NOT EXISTS \(q(t.physical)) \(t.type)" + (t.collation.map { " COLLATE \($0)" } ?? ""))
        }
        for t in transition.allTargets {
            if t.addsNotNull {
                let name = q(notNullCheckName(t))
                clauses.append(nativeNotNull ? "ADD CONSTRAINT \(name) NOT NULL \(q(t.physical)) NOT VALID"
                                             : "ADD CONSTRAINT \(name) CHECK (\(q(t.physical)) IS NOT NULL) NOT VALID")
            }
            if let check = t.check {
                clauses.append("ADD CONSTRAINT \(q(checkName(t).transitional)) CHECK (\(check)) NOT VALID")
            }
            if let fk = t.foreignKey {
                clauses.append("ADD CONSTRAINT \(q(foreignKeyName(t).transitional)) \(fk) NOT VALID")
            }
        }
        for constraint in transition.recreatedConstraints where !constraint.notValid {
            clauses.append("ADD CONSTRAINT \(q(constraint.transitional)) \(constraint.definition) NOT VALID")
        }
        for constraint in transition.constraints where constraint.addedNotValid {
            clauses.append("ADD CONSTRAINT \(q(constraint.transitional)) \(constraint.definition) NOT VALID")
        }
        if !clauses.isEmpty {
            statements.append(PhaseStatement(.transaction, "add the new shape beside the old" + deferredActionsNote,
                                             "ALTER TABLE \(table)\n  " + clauses.joined(separator: ",\n  ")))
        }
        // New code may write the new columns from expand on: the roles that may use an old
        // column (column-level privileges; table-level ones cover the new column already) may
        // use its replacement, under the name it has now (the privileges follow the rename).
        for t in transition.newTargets {
            statements += grants(t.properties?.grants ?? [], on: t.physical, "the old column's privileges on the new column")
        }
        if transition.needsTrigger {
            statements.append(PhaseStatement(.transaction, "the dual-write function", triggerFunction))
            statements.append(PhaseStatement(.transaction, "the dual-write trigger",
                "CREATE TRIGGER \(q(triggerName)) BEFORE INSERT OR UPDATE ON \(table)\n  FOR EACH ROW WHEN (\(triggerCondition))\n  EXECUTE FUNCTION \(qualifiedFunction)()"))
            // In every session mode: `session_replication_role = replica` (used by replication
            // tools and bulk loaders) would otherwise write around it.
            statements.append(PhaseStatement(.transaction, "the dual-write trigger fires for every writer",
                "ALTER TABLE \(table) ENABLE ALWAYS TRIGGER \(q(triggerName))"))
            statements += dependencyView
        }
        // Each version of the application its own names from now on (docs/versions.md).
        if transition.plan.versionedSchemas { statements += VersionSchemas(transition).create }
        // `rename_table_to`: the new name, a view over the table until contract.
        if let rename = transition.plan.renameTableTo {
            statements += TableRename.expand(schema: transition.table.schema, table: tableName, to: rename.value, plan: transition.plan.id)
        }
        return statements
    }

    /// `rename_table_to`'s contract statements for the table's `objects` (`TableRename`):
    /// offline, those the catalog knows (what `render` shows); contract reads them live.
    public func tableRename(_ objects: [TableRename.Object], taken: Set<String> = []) -> [PhaseStatement] {
        guard let rename = transition.plan.renameTableTo else { return [] }
        let decided = TableRename.renames(table: tableName, to: rename.value, objects: objects, taken: taken)
        return TableRename.contract(schema: transition.table.schema, table: tableName, to: rename.value, renames: decided.renames,
                                    offline: transition.table.details == nil)
    }

    /// One statement per `up` (and `backfill`) and `down` the trigger and the backfill run, in
    /// the form the trigger runs it, over the row (`FROM (SELECT NEW.*) AS bellows_row` there):
    /// `SELECT (expression)::type FROM (SELECT * FROM table LIMIT 0) AS bellows_row`. Parse
    /// analysis resolves every function, operator and cast of it under the session's search_path
    /// without reading a row, and, as in the trigger, the table's name and its system columns are
    /// not in scope (`users.email`, `to_jsonb(users)` and `tableoid` passed a probe `FROM table`
    /// and failed every write: hostile-d 27). Expand runs them after adding the new columns and
    /// before creating the trigger.
    public var expressionProbes: [ExpressionProbe] {
        let row = "(SELECT * FROM \(table) LIMIT 0) AS bellows_row"
        return transition.groups.flatMap { group in
            group.targets.compactMap { t in
                t.up.map { ExpressionProbe(changeIndex: group.changeIndex, key: "up", column: t.physical,
                                           sql: "SELECT (\($0))::\(t.type) FROM \(row)",
                                           alone: "SELECT (\($0))::\(t.type) FROM \(table) AS bellows_row") }
            } + group.downs.map { down in
                ExpressionProbe(changeIndex: group.changeIndex, key: "down", column: down.column,
                                sql: "SELECT (\(down.expression))::\(down.type) FROM \(row)",
                                alone: "SELECT (\(down.expression))::\(down.type) FROM \(table) AS bellows_row")
            }
        }
    }

    /// The default each target gets at contract, set on it now (in expand's transaction, after
    /// the new columns are added) and undone at once: `ALTER TABLE … SET DEFAULT` coerces it to the
    /// column's type as contract will, so a default that does not fit (42804, 22P02) refuses
    /// expand before any change instead of failing contract.
    public var defaultProbes: [ExpressionProbe] {
        transition.groups.flatMap { group in
            group.targets.compactMap { t in
                guard case .set(let value)? = t.defaultAtContract else { return nil }
                return ExpressionProbe(changeIndex: group.changeIndex, key: "default", column: t.physical,
                                       sql: "ALTER TABLE \(table) ALTER COLUMN \(q(t.physical)) SET DEFAULT \(value)")
            }
        }
    }

    /// An expression of the plan as the trigger or the backfill runs it, probed at expand.
    public struct ExpressionProbe: Sendable, Hashable {
        public var changeIndex: Int
        /// `up` (also an added column's `backfill`), `down` or `default`.
        public var key: String
        /// The column it computes (physical name).
        public var column: String
        public var sql: String
        /// The expression over the table itself, no subquery: a view of it holds the
        /// expression's own nodes and nothing else typed (`SettingsIndependence`).
        public var alone: String = ""
    }

    /// When the dual-write trigger fires. Never for the backfill's own writes, which set
    /// `bellows.backfill` to the plan's id. When every change is a plain rename (the new
    /// column a copy of the old one, same type, both ways), the function leaves alone a row
    /// whose old and new columns already agree, as every row the backfill writes does; the
    /// condition compares them first, which costs a row far less than looking the setting up
    /// (an `UPDATE` of 1M rows: 7.2 s against 8.4 s, 6.9 s with no trigger).
    public var triggerCondition: String {
        let notBackfill = "current_setting('bellows.backfill', true) IS DISTINCT FROM \(SQLQuote.literal(backfillMarker))"
        let copies = transition.groups.compactMap(plainCopy)
        let condition: String
        if !copies.isEmpty, copies.count == transition.groups.count {
            let disagree = Self.differ(copies.map { "NEW.\(q($0.old))" }, copies.map { "NEW.\(q($0.new))" },
                                       types: copies.map { transition.table.column($0.old)?.type ?? "" })
            condition = "\(disagree) AND \(notBackfill)"
        } else {
            condition = notBackfill
        }
        return writerKnown ? "\(condition) AND \(recordWriter)" : condition
    }

    /// Whether the trigger tells the new version's writes from the old version's: with
    /// versioned schemas, the new version is a session whose `search_path` holds the plan's new
    /// schema (docs/versions.md), and only the trigger's `WHEN` sees the writer's `search_path`
    /// (the function runs under its own). On INSERT, a NULL in a new column is then the new
    /// version's value and not a column old code left out (hostile-g 04).
    public var writerKnown: Bool { transition.plan.versionedSchemas && transition.needsTrigger }

    /// The setting the trigger's `WHEN` records the writer's version in, just before the
    /// function runs (`set_config(…, true)`: local to the transaction, and set again before each
    /// call, so each plan's trigger reads what its own `WHEN` recorded).
    public static let writerSetting = "bellows.writer"

    /// `WHEN`'s last term: records `new` or `old` in `bellows.writer`, always true.
    private var recordWriter: String {
        let schema = SQLQuote.literal(VersionSchemas.schema(planID: transition.plan.id, .new))
        return "pg_catalog.set_config('\(Self.writerSetting)', CASE WHEN \(schema) = ANY (pg_catalog.current_schemas(false)) THEN 'new' ELSE 'old' END, true) IS NOT NULL"
    }

    /// Whether the trigger's INSERT of `group` asks who wrote: a replacing group (rename, type
    /// change, split, merge) of a plan with versioned schemas, unless a source is an identity
    /// (its replacement takes the identity's value when the writer leaves it out). An added
    /// column is filled from its `backfill` whoever writes NULL, as the backfill fills it.
    public func knowsWriter(_ group: SyncGroup) -> Bool {
        writerKnown && group.kind == .replace
            && !group.sources.contains { transition.table.details?.columns[$0]?.identity != nil }
    }

    /// Whether the write the function handles does not come from the new version (see `writerKnown`).
    private var notByNewVersion: String { "current_setting('\(Self.writerSetting)', true) IS DISTINCT FROM 'new'" }

    /// The two columns of a rename that changes nothing else about the values.
    private func plainCopy(_ group: SyncGroup) -> (old: String, new: String)? {
        guard group.kind == .replace, group.sources.count == 1, group.targets.count == 1, group.downs.count == 1,
              let source = group.sources.first, let target = group.targets.first, let down = group.downs.first,
              target.up == SQLQuote.identifier(source), down.column == source, down.type == target.type,
              down.expression == SQLQuote.identifier(target.physical) else { return nil }
        return (source, target.physical)
    }

    /// The plpgsql function behind the dual-write trigger.
    public var triggerFunction: String {
        var body: [String] = []
        for group in transition.groups {
            let lines = triggerLines(for: group)
            guard !lines.isEmpty else { continue }
            body.append("  -- change \(group.changeIndex + 1): \(SQLQuote.commentText(describe(group)))")
            body.append(contentsOf: lines)
        }
        let settings = settingsPrologue
        let code = (["DECLARE", "  bellows_up record;"] + settings.declare + ["BEGIN"] + settings.start + body + settings.end
                    + ["  RETURN NEW;", "END"]).joined(separator: "\n")
        let tag = Self.dollarTag(notIn: code)
        return "CREATE OR REPLACE FUNCTION \(qualifiedFunction)() RETURNS trigger\nLANGUAGE plpgsql SET search_path = \(searchPath)"
            + pinnedSettings.filter(Self.settingsPinnedByClause.contains).map { "\nSET \($0) FROM CURRENT" }.joined() + " AS \(tag)\n\(code)\n\(tag)"
    }

    /// A dollar-quote delimiter that does not occur in `body` (`$bellows$`, else `$bellows_2$`…):
    /// a plan's expression may hold any text, `$bellows$` included, in a string or its own dollar quote.
    static func dollarTag(notIn body: String) -> String {
        var tag = "$bellows$"
        var n = 1
        while body.contains(tag) {
            n += 1
            tag = "$bellows_\(n)$"
        }
        return tag
    }

    public func describe(_ group: SyncGroup) -> String {
        let sources = group.sources.joined(separator: ", ")
        let targets = group.targets.map(\.final).joined(separator: ", ")
        switch group.kind {
        case .replace: return "\(sources) -> \(targets)"
        case .inPlace: return "\(sources) in place"
        case .add: return "add \(targets)"
        case .drop: return "drop \(sources)"
        }
    }

    private func row(_ prefix: String, _ columns: [String]) -> String {
        "ROW(" + columns.map { "\(prefix).\(q($0))" }.joined(separator: ", ") + ")"
    }

    // MARK: comparing values by identity

    /// Whether two rows of values (`a[i]` against `b[i]`, each pair of one type) differ:
    /// `record_image_ne(ROW(a…), ROW(b…))`, which compares the values' binary images after
    /// detoasting, NULL equal to NULL. Not the types' `=` (nor `IS DISTINCT FROM`, which uses
    /// it): values equal but not the same — a case-only change under a nondeterministic
    /// collation, `2.5` and `2.500`, `-0` and `0`, `'1 day'` and `'24 hours'` — count as
    /// different, so a write of one is copied to the other side and verify sees the
    /// difference. It exists for every type, those without `=` (`json`, `point`) too. The
    /// function rather than its operator `*<>`: `ROW(…) *<> ROW(…)` parses as a comparison of
    /// each pair with `*<>`, which the types lack, and a `::record` cast around it is lost when
    /// PostgreSQL prints the trigger's WHEN (pg_dump could not restore it).
    static func differ(_ a: [String], _ b: [String]) -> String {
        "record_image_ne(ROW(\(a.joined(separator: ", "))), ROW(\(b.joined(separator: ", "))))"
    }

    /// `differ` for values of known types: where every type's `=` holds only for identical
    /// values (`identityEquality`), one `IS DISTINCT FROM` per pair, text compared under
    /// `COLLATE "C"` (byte by byte, whatever the column's collation) — the same answer without
    /// building two rows per compared row: verify's scan of a 1M-row rename took 1.9× a bare
    /// `count(*)` with `record_image_ne`, 1.3× with this (issue 22). The dual-write trigger
    /// compares the written row's columns the same way on every write. Other types keep `differ`.
    static func differ(_ a: [String], _ b: [String], types: [String]) -> String {
        identityPairs(a, b, types: types, "IS DISTINCT FROM", joined: " OR ") ?? differ(a, b)
    }

    /// `identical` for values of known types, as `differ(_:_:types:)`: one `IS NOT DISTINCT
    /// FROM` per pair where every type's `=` is identity, else `record_image_eq`.
    static func identical(_ a: [String], _ b: [String], types: [String]) -> String {
        identityPairs(a, b, types: types, "IS NOT DISTINCT FROM", joined: " AND ") ?? identical(a, b)
    }

    /// Each pair compared with `comparison`, text under `COLLATE "C"`; `nil` unless every
    /// type's `=` is identity (`identityEquality`).
    private static func identityPairs(_ a: [String], _ b: [String], types: [String], _ comparison: String, joined: String) -> String? {
        let kinds = types.map(identityEquality)
        guard a.count == types.count, b.count == types.count, !kinds.isEmpty, kinds.allSatisfy({ $0 != nil }) else { return nil }
        let pairs = zip(zip(a, b), kinds).map { pair, kind in
            kind == true ? "(\(pair.0) COLLATE \"C\") \(comparison) (\(pair.1) COLLATE \"C\")" : "\(pair.0) \(comparison) \(pair.1)"
        }
        return pairs.count == 1 ? pairs[0] : "(" + pairs.joined(separator: joined) + ")"
    }

    /// Whether `type`'s default `=` holds only for values with the same binary image: `false`
    /// for integers, `boolean`, `uuid`, `date`, `bytea`, `timestamp[tz]`; `true` for text types,
    /// whose `=` is that under a deterministic collation such as `"C"` (not `char(n)`, which
    /// ignores trailing spaces); `nil` for any other (numeric's `2.5 = 2.50`, floats' `-0 = 0`,
    /// a domain, an array, a type offline render does not know).
    static func identityEquality(_ type: String) -> Bool? {
        var t = type.lowercased().trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("pg_catalog.") { t = String(t.dropFirst("pg_catalog.".count)) }
        if ["smallint", "integer", "int", "bigint", "int2", "int4", "int8", "boolean", "bool", "uuid", "date", "bytea",
            "timestamp", "timestamp without time zone", "timestamptz", "timestamp with time zone"].contains(t) { return false }
        if t == "text" || t == "varchar" || t == "character varying" { return true }
        for prefix in ["varchar(", "character varying("] where t.hasPrefix(prefix) && t.hasSuffix(")") && !t.contains("[") {
            return t.dropFirst(prefix.count).dropLast().allSatisfy(\.isNumber) ? true : nil
        }
        return nil
    }

    /// Types without a default equality that `render` knows offline (the engine reads them
    /// from `pg_catalog`, domains, arrays and composite types included).
    public static let builtInTypesWithoutEquality: Set<String> = ["json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"]

    /// Whether values of `type` have no default equality (`=` fails, or is not equality: `box`).
    func lacksEquality(_ type: String) -> Bool {
        if let known = transition.typesWithoutEquality { return known.contains(type) }
        var base = type.lowercased().trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("[]") { base = String(base.dropLast(2)).trimmingCharacters(in: .whitespaces) }
        if base.hasPrefix("pg_catalog.") { base = String(base.dropFirst("pg_catalog.".count)) }
        return Self.builtInTypesWithoutEquality.contains(base)
    }

    /// Whether each value of `a` (with its type) equals its counterpart in `b` by the type's
    /// `=`, NULL equal to NULL; identical, for a type without equality.
    private func equal(_ a: [(value: String, type: String)], _ b: [String]) -> String {
        let pairs = zip(a, b).map { pair in
            lacksEquality(pair.0.type) ? Self.identical([pair.0.value], [pair.1]) : "\(pair.0.value) IS NOT DISTINCT FROM \(pair.1)"
        }
        return pairs.count == 1 ? pairs[0] : "(" + pairs.joined(separator: " AND ") + ")"
    }

    /// Whether two rows of values are identical (see `differ`).
    static func identical(_ a: [String], _ b: [String]) -> String {
        "record_image_eq(ROW(\(a.joined(separator: ", "))), ROW(\(b.joined(separator: ", "))))"
    }

    /// The targets' columns over `prefix` (`NEW`, `OLD`).
    private func columns(_ prefix: String, _ targets: [TransitionTarget]) -> [String] {
        targets.map { "\(prefix).\(q($0.physical))" }
    }

    /// Each of the group's `down` expressions (over physical names), cast to its old column's type.
    private func castDowns(_ group: SyncGroup) -> [String] {
        group.downs.map { "(\($0.expression))::\($0.type)" }
    }

    /// Each target's `up`, cast to its type.
    private func ups(_ targets: [TransitionTarget]) -> [String] {
        targets.map { "(\($0.up ?? "NULL"))::\($0.type)" }
    }

    private func computeTargets(_ targets: [TransitionTarget], indent: String) -> String {
        let withUp = targets.filter { $0.up != nil }
        let values = withUp.map { "(\($0.up ?? "NULL"))::\($0.type)" }.joined(separator: ", ")
        let into = withUp.map { "NEW.\(q($0.physical))" }.joined(separator: ", ")
        return "\(indent)SELECT \(values) INTO \(into) FROM (SELECT NEW.*) AS bellows_row;"
    }

    private func computeDowns(_ group: SyncGroup, indent: String) -> String {
        guard !group.downs.isEmpty else { return "\(indent)NULL; -- no down: old code does not see this write" }
        let values = castDowns(group).joined(separator: ", ")
        let into = group.downs.map { "NEW.\(q($0.column))" }.joined(separator: ", ")
        return "\(indent)SELECT \(values) INTO \(into) FROM (SELECT NEW.*) AS bellows_row;"
    }

    // MARK: expressions over the written row

    /// A group's `up` and `down` expressions rewritten over `NEW` (each cast to its column's
    /// type), when every one of them can be. The trigger then evaluates them as plpgsql
    /// expressions, which costs a few microseconds per written row, instead of running a
    /// `SELECT … FROM (SELECT NEW.*)` query for each, which costs several times more; the
    /// values are the same. `nil` keeps the query form for the whole group.
    private struct RowForm {
        /// One per target, `(NULL)::type` for a target without `up`.
        var ups: [String]
        /// One per entry of the group's `downs`.
        var downs: [String]
    }

    private func rowForm(_ group: SyncGroup) -> RowForm? {
        let columns = Set(transition.table.columns.map(\.name)).union(transition.allTargets.map(\.physical))
        let targets = Set(group.targets.map(\.physical))
        var ups: [String] = []
        for t in group.targets {
            guard let up = t.up else { ups.append("(NULL)::\(t.type)"); continue }
            guard let expression = Self.overNew(up, columns: columns) else { return nil }
            // The query form computes every target before assigning any; one assignment after
            // the other is the same only when no expression reads a column assigned before it.
            if group.targets.count > 1, !ExpressionRewriter.referencedColumns(in: up, among: targets).isEmpty { return nil }
            ups.append("(\(expression))::\(t.type)")
        }
        var downs: [String] = []
        let oldColumns = Set(group.downs.map(\.column))
        for down in group.downs {
            guard let expression = Self.overNew(down.expression, columns: columns) else { return nil }
            if group.downs.count > 1, !ExpressionRewriter.referencedColumns(in: down.expression, among: oldColumns).isEmpty { return nil }
            downs.append("(\(expression))::\(down.type)")
        }
        return RowForm(ups: ups, downs: downs)
    }

    /// Words that keep their meaning in an expression over `NEW`: operators spelled as words,
    /// constants, and the words of multi-word type names.
    private static let rowFormWords: Set<String> = [
        "NULL", "TRUE", "FALSE", "AND", "OR", "NOT", "IS", "ISNULL", "NOTNULL", "DISTINCT", "FROM", "IN",
        "LIKE", "ILIKE", "SIMILAR", "TO", "ESCAPE", "BETWEEN", "SYMMETRIC", "ASYMMETRIC", "CASE", "WHEN",
        "THEN", "ELSE", "END", "AS", "ANY", "SOME", "ALL", "ARRAY", "ROW", "COLLATE", "AT", "TIME", "ZONE",
        "WITH", "WITHOUT", "PRECISION", "VARYING", "BOTH", "LEADING", "TRAILING", "FOR", "PLACING",
        "OVERLAPS", "UNKNOWN", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME",
        "LOCALTIMESTAMP", "CURRENT_USER", "SESSION_USER", "CURRENT_ROLE",
    ]

    /// `expression` with each reference to one of `columns` written `NEW."column"`, or `nil`
    /// when that could change its meaning or is not certain to be the same expression: a
    /// subquery or any word not known here (`SELECT`, `EXTRACT`'s field names…), a qualified
    /// name, a comment, a parameter, a column name in the place of a function or type name.
    static func overNew(_ expression: String, columns: Set<String>) -> String? {
        let tokens = Lexer.tokenize(expression)
        var output = ""
        var previous: Token?
        for (index, token) in tokens.enumerated() {
            defer { if token.isSignificant { previous = token } }
            guard token.isTerminated else { return nil }
            switch token.kind {
            case .whitespace, .string, .dollarString, .number:
                output += token.text
                continue
            case .comment, .parameter:
                return nil
            case .operator, .punctuation:
                if token.isSymbol(";") || token.isSymbol(".") { return nil }
                output += token.text
                continue
            case .word, .quotedIdentifier:
                break
            }
            guard let name = token.identifierValue, !token.isKeyword("EXTRACT") else { return nil }
            let next = tokens[(index + 1)...].first { $0.isSignificant }
            let typePosition = previous.map { $0.isSymbol("::") || $0.isKeyword("AS") || $0.isKeyword("COLLATE") } ?? false
            let isCall = next?.isSymbol("(") ?? false
            let typedLiteral = next?.kind == .string
            let knownWord = token.kind == .word && Self.rowFormWords.contains(token.upper)
            if columns.contains(name) {
                if typePosition || isCall || typedLiteral || knownWord || (next?.isSymbol("=>") ?? false) { return nil }
                output += "NEW." + SQLQuote.identifier(name)
            } else if typePosition || isCall || typedLiteral || knownWord {
                output += token.text
            } else {
                return nil
            }
        }
        return output
    }

    private func assignTargets(_ group: SyncGroup, _ form: RowForm, indent: String) -> String {
        zip(group.targets, form.ups).filter { $0.0.up != nil }
            .map { "\(indent)NEW.\(q($0.0.physical)) := \($0.1);" }.joined(separator: "\n")
    }

    private func assignDowns(_ group: SyncGroup, _ form: RowForm, indent: String) -> String {
        guard !group.downs.isEmpty else { return "\(indent)NULL; -- no down: old code does not see this write" }
        return zip(group.downs, form.downs).map { "\(indent)NEW.\(q($0.0.column)) := \($0.1);" }.joined(separator: "\n")
    }

    /// The lines setting the targets from `up`, in the row form when the group has one.
    private func setTargets(_ group: SyncGroup, _ form: RowForm?, indent: String) -> String {
        form.map { assignTargets(group, $0, indent: indent) } ?? computeTargets(group.targets, indent: indent)
    }

    private func setDowns(_ group: SyncGroup, _ form: RowForm?, indent: String) -> String {
        form.map { assignDowns(group, $0, indent: indent) } ?? computeDowns(group, indent: indent)
    }

    /// The old columns a replacing group's new ones are computed from: its sources, then every
    /// other column of the table its `up` reads (`coalesce(display, username)` reads `username`),
    /// so that old code's UPDATE of any of them recomputes the new columns (hostile finding 11).
    func readColumns(_ group: SyncGroup) -> [String] {
        let names = Set(transition.table.columns.map(\.name))
        let read = group.targets.compactMap(\.up).reduce(into: Set<String>()) {
            $0.formUnion(ExpressionRewriter.referencedColumns(in: $1, among: names))
        }
        return group.sources + read.subtracting(group.sources).sorted()
    }

    /// An UPDATE by new code writes the replacement, and `down` the old column: the writer must
    /// be allowed to UPDATE the old column, whose column privileges govern both during the
    /// transition. PostgreSQL checks the replacement's, which expand copied; a `REVOKE UPDATE
    /// (col)` after expand names only the old one (hostile-g 06). The function is not SECURITY
    /// DEFINER, so `current_user` is the writer. The error names the column as the new version
    /// sees it.
    private func updatePrivilegeCheck(_ group: SyncGroup) -> [String] {
        guard group.kind == .replace else { return [] }
        let seen = group.targets.map(\.final).joined(separator: "\", \"")
        return group.sources.flatMap { source -> [String] in
            [
                "    IF NOT has_column_privilege(TG_RELID, \(SQLQuote.literal(source)), 'UPDATE') THEN",
                "      RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = "
                    + SQLQuote.literal("permission denied to update column \"\(seen)\" of table \(tableName)")
                    + ", DETAIL = " + SQLQuote.literal("Until contract of Bellows plan \(transition.plan.id), \"\(seen)\" is written through \"\(source)\", "
                                                      + "and the role may not UPDATE \"\(source)\".") + ";",
                "    END IF;",
            ]
        }
    }

    private func triggerLines(for group: SyncGroup) -> [String] {
        let form = rowForm(group)
        switch group.kind {
        case .replace:
            let targets = group.targets.map(\.physical)
            let ups = group.targets.enumerated().map { "(\($0.element.up ?? "NULL"))::\($0.element.type) AS c\($0.offset)" }.joined(separator: ", ")
            let newTargets = row("NEW", targets), oldTargets = row("OLD", targets)
            let newColumns = columns("NEW", group.targets), oldColumns = columns("OLD", group.targets)
            let read = readColumns(group)
            let targetTypes = group.targets.map(\.type)
            let sourcesChanged = Self.differ(read.map { "NEW.\(q($0))" }, read.map { "OLD.\(q($0))" },
                                             types: read.map { transition.table.column($0)?.type ?? "" })
            // A write by new code: old code reads the old column, so rebuild it with down
            // unless the write agrees with up (then the old column already holds the value).
            func compareAndDown(_ indent: String) -> [String] {
                if let form {
                    return [
                        "\(indent)IF \(Self.differ(newColumns, form.ups, types: targetTypes)) THEN",
                        setDowns(group, form, indent: indent + "  "),
                        "\(indent)END IF;",
                    ]
                }
                let upRow = group.targets.indices.map { "bellows_up.c\($0)" }
                return [
                    "\(indent)SELECT \(ups) INTO bellows_up FROM (SELECT NEW.*) AS bellows_row;",
                    "\(indent)IF \(Self.differ(newColumns, upRow, types: targetTypes)) THEN",
                    computeDowns(group, indent: indent + "  "),
                    "\(indent)END IF;",
                ]
            }
            // A write by new code that sets only some targets of a row the backfill has not
            // reached: the others are still NULL, so fill them from up first, or down would
            // rebuild the old column from NULLs and lose what the write did not touch.
            var fillUntouched: [String] = []
            if group.targets.count >= 2 {
                fillUntouched.append("    IF \(oldTargets) IS NULL THEN -- a row the backfill has not reached")
                if let form {
                    fillUntouched += zip(group.targets, form.ups).map { target, up in
                        "      IF NEW.\(q(target.physical)) IS NULL THEN NEW.\(q(target.physical)) := \(up); END IF;"
                    }
                } else {
                    fillUntouched.append("      SELECT \(ups) INTO bellows_up FROM (SELECT NEW.*) AS bellows_row;")
                    fillUntouched += group.targets.enumerated().map { index, target in
                        "      IF NEW.\(q(target.physical)) IS NULL THEN NEW.\(q(target.physical)) := bellows_up.c\(index); END IF;"
                    }
                }
                fillUntouched.append("    END IF;")
            }
            // The replacement of a GENERATED ALWAYS identity is a plain column until contract:
            // an INSERT naming it would put its value past the sequence into the identity
            // column through `down` (hostile-g 07). Refused as PostgreSQL refuses it on the table.
            let always = group.sources.filter { transition.table.details?.columns[$0]?.identity == "ALWAYS" }
            let refuseExplicit = always.map { source -> String in
                let final = group.targets.first?.final ?? source
                return "      RAISE EXCEPTION USING ERRCODE = '428C9', MESSAGE = "
                    + SQLQuote.literal("cannot insert a non-DEFAULT value into column \"\(final)\"")
                    + ", DETAIL = " + SQLQuote.literal("Column \"\(source)\" is an identity column defined as GENERATED ALWAYS; its replacement \"\(group.targets.first?.physical ?? final)\" takes its value until contract.")
                    + ";"
            }
            // With versioned schemas the new version's INSERT is known: a NULL it writes into a
            // new column stays NULL (it leaves a column out to get the column's default, which
            // its view carries: VersionSchemas.create). Not for an identity's replacement,
            // which takes the identity's value when the writer leaves it out.
            let byOldCode = knowsWriter(group) ? "\(newTargets) IS NULL AND \(notByNewVersion)" : "\(newTargets) IS NULL"
            return [
                "  IF TG_OP = 'INSERT' THEN",
                "    IF \(byOldCode) THEN -- written by old code",
                setTargets(group, form, indent: "      "),
                "    ELSE -- written by new code",
            ] + refuseExplicit + compareAndDown("      ") + [
                "    END IF;",
                "  ELSIF \(sourcesChanged) AND \(Self.identical(newColumns, oldColumns, types: targetTypes)) THEN",
                setTargets(group, form, indent: "    "),
                "  ELSIF \(Self.differ(newColumns, oldColumns, types: targetTypes)) THEN",
            ] + updatePrivilegeCheck(group) + fillUntouched + compareAndDown("    ") + [
                "  ELSIF \(newTargets) IS NULL THEN -- a row the backfill has not reached",
                setTargets(group, form, indent: "    "),
                "  END IF;",
            ]
        case .inPlace:
            guard group.targets.contains(where: { $0.up != nil }) else { return [] }
            return [setTargets(group, form, indent: "  ")]
        case .add:
            guard let t = group.targets.first, t.up != nil else { return [] }
            return [
                "  IF NEW.\(q(t.physical)) IS NULL THEN",
                setTargets(group, form, indent: "    "),
                "  END IF;",
            ]
        case .drop:
            guard let down = group.downs.first else { return [] }
            return [
                "  IF NEW.\(q(down.column)) IS NULL THEN",
                setDowns(group, form, indent: "    "),
                "  END IF;",
            ]
        }
    }

    // MARK: backfill

    /// The condition under which a row still needs this group's targets computed.
    private func pendingCondition(_ group: SyncGroup) -> String? {
        let withUp = group.targets.filter { $0.up != nil }
        guard !withUp.isEmpty else { return nil }
        // A row whose `up` gives NULL is left alone (no dead tuple for nothing), but only when
        // `up` repeats: a second evaluation of `nextval()` in the condition would draw a second
        // value for every row (hostile-h 11); such a row is written even when `up` gives NULL.
        let repeating = withUp.allSatisfy(transition.repeats)
        switch group.kind {
        case .replace:
            let targets = "ROW(" + withUp.map { q($0.physical) }.joined(separator: ", ") + ")"
            let ups = "ROW(" + withUp.map { "(\($0.up ?? "NULL"))::\($0.type)" }.joined(separator: ", ") + ")"
            return repeating ? "(\(targets) IS NULL AND NOT \(ups) IS NULL)" : "\(targets) IS NULL"
        case .add:
            return withUp.map {
                transition.repeats($0) ? "(\(q($0.physical)) IS NULL AND (\($0.up ?? "NULL"))::\($0.type) IS NOT NULL)" : "\(q($0.physical)) IS NULL"
            }.joined(separator: " AND ")
        case .inPlace:
            return Self.differ(withUp.map { q($0.physical) }, ups(withUp))
        case .drop:
            return nil
        }
    }

    public var needsBackfill: Bool { transition.groups.contains { pendingCondition($0) != nil } }

    /// The batches' keyset over the table's key (`KeysetSQL`).
    public var keyset: KeysetSQL { KeysetSQL(table: table, key: transition.key) }

    /// The backfill's upper bound: the largest key of the table when the backfill starts, as
    /// `max_key` (text[]); no row when the table is empty. The walk stops there: every row
    /// written after expand, a row inserted past the bound included, is written by the
    /// dual-write trigger, so the backfill has nothing to do past it (issue 22: without it,
    /// the walk chased the application's inserts and ended only when they stopped).
    public var backfillUpperBound: String { keyset.upperBound }

    /// One keyset batch: two statements, run in one transaction with the cursor's update.
    ///
    /// `bound` finds the batch's last key by walking the primary key index from the cursor
    /// up to the backfill's upper bound (`backfillUpperBound`): the batch size-th key, or the
    /// last key up to the bound when fewer remain. Parameters: the cursor's key values as
    /// text (`$1…$n`, omitted when `first`), then the batch size, then the upper bound's key
    /// values. Returns one row, `scanned` and `last_key` (text[]), or none when no row is
    /// left between the cursor and the bound.
    ///
    /// `update` then takes exactly the rows between the cursor and that key with one index
    /// range scan, and the command's row count is the number updated. Parameters: the cursor's
    /// key values (omitted when `first`), then `last_key`'s.
    ///
    /// Both bounds reach the planner as values, so it estimates the batch as the range it is:
    /// a bound computed inside the statement (a CTE, as before) left the first batch with an
    /// upper bound alone, estimated at a third of the table, which past `jit_above_cost` was
    /// compiled with LLVM (40-80 ms for 1,000 rows of a 5M-row table, 330 ms under load while
    /// the application's writes waited). Joining a list of keys instead lets the planner pick
    /// a hash join over a scan of the whole table for every batch, which makes a backfill
    /// quadratic. The UPDATE has no RETURNING: collecting a row per updated row into a CTE to
    /// count them cost about 5 % of the batch (docs/benchmarks.md).
    ///
    /// `rescan` (`backfill --rescan`) updates the rows verify would count as disagreeing with
    /// `up` (`mismatchConditions`) instead of the rows still pending: after writes that bypassed
    /// the trigger, the new columns are recomputed from the old ones.
    public func backfillBatch(first: Bool, rescan: Bool = false) -> BackfillBatch {
        let bound = keyset.bound(first: first)

        var groups: [(condition: String, targets: [TransitionTarget])] = []
        let mismatches = rescan ? mismatchConditions : []
        for group in transition.groups {
            let condition = rescan ? mismatches.first { $0.group == group }?.condition : pendingCondition(group)
            guard let condition else { continue }
            groups.append((condition, group.targets.filter { $0.up != nil }))
        }
        // With one group the WHERE clause already holds its condition for every updated row
        // (also when a concurrent write makes PostgreSQL re-check the row), so the value is
        // assigned directly; with several, each target changes only where its own group's
        // condition holds.
        let sets = groups.flatMap { group in
            group.targets.map { t in
                let up = "(\(t.up ?? "NULL"))::\(t.type)"
                return groups.count == 1 ? "\(q(t.physical)) = \(up)"
                    : "\(q(t.physical)) = CASE WHEN \(group.condition) THEN \(up) ELSE \(q(t.physical)) END"
            }
        }
        let update = """
            UPDATE \(table) SET
              \(sets.joined(separator: ",\n  "))
            WHERE \(keyset.batchRange(first: first))
              AND (\(groups.map(\.condition).joined(separator: " OR ")))
            """
        return BackfillBatch(bound: bound, update: update)
    }

    /// The two statements of one keyset batch (see `backfillBatch(first:)`).
    public struct BackfillBatch: Sendable {
        public var bound: String
        public var update: String
    }

    // MARK: verify

    /// The condition under which a row disagrees with `up`, per group that has one.
    ///
    /// A row of a replacing change agrees when its new columns are identical to `up` of its
    /// old ones (written by old code, or backfilled), or — written by new code — its old
    /// columns are identical to `down` of its new ones *and* `up` of those equals the new ones
    /// by the type's `=` (a `down` that loses what new code wrote still fails: rollback would
    /// lose it). `up(down(new))` need not be identical to `new` for a faithful pair: widening
    /// `numeric(10,2)` to `numeric`, new code writes `2.5`, `down` keeps `2.50` for old code,
    /// whose `up` is `2.50` — equal, not identical (verify refused every such row). The
    /// `CASE` evaluates `down` only for rows that disagree with `up`.
    ///
    /// A target whose `up` does not repeat (`Repeatability`: `random()`, `now()`,
    /// `gen_random_uuid()`…) cannot be compared with a second evaluation: its row disagrees only
    /// when the column is NULL where `up` gives a value (presence); its constraints are
    /// validated as every target's are.
    public var mismatchConditions: [(group: SyncGroup, condition: String)] {
        transition.groups.compactMap { group in
            let withUp = group.targets.filter { $0.up != nil }
            guard !withUp.isEmpty else { return nil }
            let repeating = withUp.filter(transition.repeats)
            let absent = withUp.filter { !transition.repeats($0) }.map { "(\(q($0.physical)) IS NULL AND (\($0.up ?? "NULL"))::\($0.type) IS NOT NULL)" }
            func orAbsent(_ condition: String?) -> String? {
                let all = (condition.map { [$0] } ?? []) + absent
                return all.isEmpty ? nil : all.count == 1 ? all[0] : "(" + all.joined(separator: " OR ") + ")"
            }
            switch group.kind {
            case .replace:
                guard !repeating.isEmpty else { return orAbsent(nil).map { (group, $0) } }
                let disagreesWithUp = Self.differ(repeating.map { q($0.physical) }, ups(repeating), types: repeating.map(\.type))
                guard !group.downs.isEmpty else { return orAbsent(disagreesWithUp).map { (group, $0) } }
                let writtenThroughDown = Self.identical(group.downs.map { q($0.column) }, castDowns(group))
                return orAbsent("CASE WHEN \(disagreesWithUp) THEN NOT (\(writtenThroughDown) AND \(equal(repeating.map { (q($0.physical), $0.type) }, ups(repeating)))) ELSE false END").map { (group, $0) }
            case .inPlace:
                guard !repeating.isEmpty else { return orAbsent(nil).map { (group, $0) } }
                return orAbsent(Self.differ(repeating.map { q($0.physical) }, ups(repeating), types: repeating.map(\.type))).map { (group, $0) }
            case .add:
                return pendingCondition(group).map { (group, $0) }
            case .drop:
                return nil
            }
        }
    }

    /// One scan counting, per change, the rows that disagree with `up`.
    public var verifyScan: String? {
        let conditions = mismatchConditions
        guard !conditions.isEmpty else { return nil }
        let counts = conditions.map { "count(*) FILTER (WHERE \($0.condition)) AS change_\($0.group.changeIndex + 1)" }
        return "SELECT count(*) AS total,\n       " + counts.joined(separator: ",\n       ") + "\nFROM \(table)"
    }

    /// A few keys of rows that disagree with `up` for one change, to show the user.
    public func verifySample(condition: String, limit: Int = 5) -> String {
        let key = transition.key.map { q($0.name) }
        let text = "concat_ws(', ', " + key.map { "\($0)::text" }.joined(separator: ", ") + ")"
        return "SELECT \(text) AS key FROM \(table) WHERE \(condition) ORDER BY \(key.joined(separator: ", ")) LIMIT \(limit)"
    }

    public var verifyValidations: [PhaseStatement] {
        addedConstraints.map {
            PhaseStatement(.standalone, "validate without blocking writes", "ALTER TABLE \(table) VALIDATE CONSTRAINT \(q($0))")
        }
    }

    // MARK: contract

    /// Contract's first statement when there is a trigger: under this lock the engine checks
    /// that the trigger is still the one verify saw, then drops it.
    public var contractLock: PhaseStatement? {
        guard transition.needsTrigger else { return nil }
        return PhaseStatement(.transaction, "hold the table; the dual-write trigger must be as verify saw it",
                              "LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE")
    }

    public var contract: [PhaseStatement] {
        var statements: [PhaseStatement] = contractLock.map { [$0] } ?? []
        // The old version's views read the columns contract drops; the new version's follow
        // theirs across the renames (by attnum) and stay (docs/versions.md).
        statements.append(VersionSchemas(transition).drop(.old))
        if transition.needsTrigger {
            statements.append(PhaseStatement(.transaction, "stop dual writes", "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(table)"))
            statements.append(PhaseStatement(.transaction, "stop dual writes (the trigger's name before Bellows fired it last)", "DROP TRIGGER IF EXISTS \(q(legacyTriggerName)) ON \(table)"))
            statements.append(PhaseStatement(.transaction, "stop dual writes", "DROP FUNCTION IF EXISTS \(qualifiedFunction)()"))
            if !dependencyView.isEmpty {
                statements.append(PhaseStatement(.transaction, "the view recording what up and down use", "DROP VIEW IF EXISTS \(qualifiedDependencyView)"))
            }
        }
        for t in transition.allTargets {
            if let sequence = t.reownedSequence {
                statements.append(PhaseStatement(.transaction, "the sequence the old column owned stays, owned by the new one",
                                                 "ALTER SEQUENCE \(sequence) OWNED BY \(table).\(q(t.physical))"))
                if let type = t.sequenceType {
                    statements.append(PhaseStatement(.transaction, "the sequence takes the new column's type (a bound that was the old type's follows it)",
                                                     "ALTER SEQUENCE \(sequence) AS \(type)"))
                }
            }
            if let identity = t.identity {
                let sequence = SQLQuote.qualified(schema: transition.table.schema, name: TransitionNames.transitional(identity.name))
                // A validated NOT NULL constraint (the `.notNull` shape) already makes the column NOT NULL.
                if !(t.addsNotNull && nativeNotNull) {
                    statements.append(PhaseStatement(.transaction, "the identity moves to the new column (NOT NULL proved by the validated check)",
                                                     "ALTER TABLE \(table) ALTER COLUMN \(q(t.physical)) SET NOT NULL"))
                }
                statements.append(PhaseStatement(.transaction, "the identity moves to the new column",
                    "ALTER TABLE \(table) ALTER COLUMN \(q(t.physical)) ADD GENERATED \(identity.kind) AS IDENTITY (SEQUENCE NAME \(sequence) \(identity.options))"))
                statements.append(PhaseStatement(.transaction, "its sequence continues where the old one stopped",
                    "SELECT setval(\(SQLQuote.literal(sequence)), s.last_value, s.is_called) FROM \(identity.oldSequence) AS s"))
            }
        }
        var clauses: [String] = []
        for constraint in transition.constraints {
            switch constraint.kind {
            case .drop: clauses.append("DROP CONSTRAINT \(q(constraint.final))")
            case .dropNotNull: clauses.append("ALTER COLUMN \(q(constraint.column ?? "")) DROP NOT NULL")
            default: break
            }
        }
        if !clauses.isEmpty {
            statements.append(PhaseStatement(.transaction, "drop the constraints the plan drops (old code never relied on their absence)",
                                             "ALTER TABLE \(table)\n  " + clauses.joined(separator: ",\n  ")))
            clauses = []
        }
        for column in transition.droppedColumns { clauses.append("DROP COLUMN \(q(column))") }
        if !clauses.isEmpty {
            statements.append(PhaseStatement(.transaction, "remove the old shape", "ALTER TABLE \(table)\n  " + clauses.joined(separator: ",\n  ")))
        }
        for t in transition.allTargets where t.isShadow {
            statements.append(PhaseStatement(.transaction, t.existing ? "rename the column in place (strategy: views): it keeps every property" : "move the new column into place",
                                             "ALTER TABLE \(table) RENAME COLUMN \(q(t.physical)) TO \(q(t.final))"))
        }
        for t in transition.allTargets {
            guard let identity = t.identity else { continue }
            statements.append(PhaseStatement(.transaction, "the identity's sequence takes the old one's name",
                "ALTER SEQUENCE \(SQLQuote.qualified(schema: transition.table.schema, name: TransitionNames.transitional(identity.name))) RENAME TO \(q(identity.name))"))
        }
        // SET NOT NULL skips its scan only while the validated check still exists when the
        // ALTER TABLE ends: dropping the check in the same statement makes PostgreSQL scan the
        // table under its ACCESS EXCLUSIVE lock. So NOT NULL first, the check dropped after.
        // A validated NOT NULL constraint (`.notNull`) is only renamed, below.
        var notNulls: [String] = []
        var finishing: [String] = []
        for t in transition.allTargets {
            if t.addsNotNull && !nativeNotNull {
                notNulls.append("ALTER COLUMN \(q(t.final)) SET NOT NULL")
                finishing.append("DROP CONSTRAINT \(q(notNullCheckName(t)))")
            }
            if t.dropsNotNull { finishing.append("ALTER COLUMN \(q(t.final)) DROP NOT NULL") }
            switch t.defaultAtContract {
            case .set(let value): finishing.append("ALTER COLUMN \(q(t.final)) SET DEFAULT \(value)")
            case .drop: finishing.append("ALTER COLUMN \(q(t.final)) DROP DEFAULT")
            case nil: break
            }
            if t.unique {
                let names = uniqueName(t)
                finishing.append("ADD CONSTRAINT \(q(names.final)) UNIQUE USING INDEX \(q(names.transitional))")
            }
            if let index = t.dropsUnique, index.isConstraint { finishing.append("DROP CONSTRAINT \(q(index.name))") }
        }
        for index in transition.recreatedIndexes where index.constraintSuffix != nil && !index.attachesAtExpand {
            finishing.append("ADD CONSTRAINT \(q(index.final)) UNIQUE USING INDEX \(q(index.transitional))")
        }
        for constraint in transition.constraints where constraint.kind == .unique {
            finishing.append("ADD CONSTRAINT \(q(constraint.final)) UNIQUE USING INDEX \(q(constraint.transitional))")
        }
        if !notNulls.isEmpty {
            statements.append(PhaseStatement(.transaction, "NOT NULL, proved by the validated check (no scan)",
                                             "ALTER TABLE \(table)\n  " + notNulls.joined(separator: ",\n  ")))
        }
        if !finishing.isEmpty {
            statements.append(PhaseStatement(.transaction, "final constraints",
                                             "ALTER TABLE \(table)\n  " + finishing.joined(separator: ",\n  ")))
        }
        for t in transition.allTargets {
            if t.addsNotNull && nativeNotNull {
                let names = notNullName(t)
                statements.append(PhaseStatement(.transaction, "final constraint name (the validated NOT NULL, no scan)",
                                                 "ALTER TABLE \(table) RENAME CONSTRAINT \(q(names.transitional)) TO \(q(names.final))"))
            }
            if t.check != nil {
                let names = checkName(t)
                statements.append(PhaseStatement(.transaction, "final constraint name",
                                                 "ALTER TABLE \(table) RENAME CONSTRAINT \(q(names.transitional)) TO \(q(names.final))"))
            }
            if t.foreignKey != nil {
                let names = foreignKeyName(t)
                statements.append(finalForeignKey(names.transitional, names.final, declared: t.foreignKeyAtContract))
            }
            for index in t.rebuiltIndexes {
                let names = rebuiltIndexName(t, index)
                statements.append(PhaseStatement(.transaction, "final index name",
                    "ALTER INDEX \(SQLQuote.qualified(schema: transition.table.schema, name: names.transitional)) RENAME TO \(q(names.final))"))
                if let comment = transition.table.details?.indexComments?[index.name] {
                    statements.append(PhaseStatement(.transaction, "the old index's comment",
                        "COMMENT ON INDEX \(SQLQuote.qualified(schema: transition.table.schema, name: names.final)) IS \(SQLQuote.literal(comment))"))
                }
            }
            if let comment = t.comment {
                statements.append(PhaseStatement(.transaction, "column comment",
                                                 "COMMENT ON COLUMN \(table).\(q(t.final)) IS \(SQLQuote.literal(comment))"))
            } else if t.removesComment && t.existing {
                statements.append(PhaseStatement(.transaction, "the column's comment removed (comment: null)",
                                                 "COMMENT ON COLUMN \(table).\(q(t.final)) IS NULL"))
            }
            if let index = t.dropsUnique, !index.isConstraint {
                statements.append(PhaseStatement(.transaction, "the column's unique index dropped (unique: false; under contract's lock)",
                                                 "DROP INDEX \(SQLQuote.qualified(schema: transition.table.schema, name: index.name))"))
            }
        }
        for constraint in transition.recreatedConstraints {
            if constraint.notValid {
                statements.append(PhaseStatement(.transaction, "the old column's NOT VALID (or NOT ENFORCED) constraint, as it was (never validated: rows may violate it)",
                                                 "ALTER TABLE \(table) ADD CONSTRAINT \(q(constraint.final)) \(constraint.definition) NOT VALID"))
            } else {
                statements.append(PhaseStatement(.transaction, "final constraint name",
                                                 "ALTER TABLE \(table) RENAME CONSTRAINT \(q(constraint.transitional)) TO \(q(constraint.final))"))
            }
        }
        for index in transition.recreatedIndexes where index.attachesAtExpand {
            statements.append(PhaseStatement(.transaction, "final constraint name (its index takes it too)",
                                             "ALTER TABLE \(table) RENAME CONSTRAINT \(q(index.transitional)) TO \(q(index.final))"))
        }
        for constraint in transition.constraints where constraint.addedNotValid {
            statements.append(finalForeignKey(constraint.transitional, constraint.final, declared: constraint.definitionAtContract))
        }
        for index in transition.recreatedIndexes where index.constraintSuffix == nil {
            statements.append(PhaseStatement(.transaction, "final index name",
                "ALTER INDEX \(SQLQuote.qualified(schema: transition.table.schema, name: index.transitional)) RENAME TO \(q(index.final))"))
        }
        for t in transition.allTargets where t.replicaIdentity {
            statements.append(PhaseStatement(.transaction, "the new unique index is the replica identity",
                                             "ALTER TABLE \(table) REPLICA IDENTITY USING INDEX \(q(t.uniqueName))"))
        }
        for index in transition.recreatedIndexes where index.replicaIdentity {
            statements.append(PhaseStatement(.transaction, "the recreated index is the replica identity",
                                             "ALTER TABLE \(table) REPLICA IDENTITY USING INDEX \(q(index.final))"))
        }
        for index in transition.recreatedIndexes where index.clustered {
            statements.append(PhaseStatement(.transaction, "the recreated index is the one CLUSTER uses, as the old one was (no rewrite)",
                                             "ALTER TABLE \(table) CLUSTER ON \(q(index.final))"))
        }
        statements += columnProperties
        // The recreated indexes' and constraints' comments, under their final names (hostile-d 38).
        for index in transition.recreatedIndexes {
            if let comment = index.comment {
                statements.append(PhaseStatement(.transaction, "the old index's comment",
                    "COMMENT ON INDEX \(SQLQuote.qualified(schema: transition.table.schema, name: index.final)) IS \(SQLQuote.literal(comment))"))
            }
            if let comment = index.constraintComment {
                statements.append(PhaseStatement(.transaction, "the old constraint's comment",
                                                 "COMMENT ON CONSTRAINT \(q(index.final)) ON \(table) IS \(SQLQuote.literal(comment))"))
            }
        }
        for constraint in transition.recreatedConstraints {
            if let comment = constraint.comment {
                statements.append(PhaseStatement(.transaction, "the old constraint's comment",
                                                 "COMMENT ON CONSTRAINT \(q(constraint.final)) ON \(table) IS \(SQLQuote.literal(comment))"))
            }
        }
        statements += tableRename(TableRename.objects(of: transition.table))
        statements += validationsAfterContract(validatedAfterContract)
        return statements
    }

    /// The declared foreign keys contract replaces `NOT VALID` under its lock and validates after
    /// its commit (a `cascade`/`set null`/`set default` action).
    public var validatedAfterContract: [String] {
        transition.allTargets.filter { $0.foreignKeyAtContract != nil }.map(\.foreignKeyName)
            + transition.constraints.filter { $0.definitionAtContract != nil }.map(\.final)
    }

    /// The `VALIDATE` after contract's commit of each of `names`.
    public func validationsAfterContract(_ names: [String]) -> [PhaseStatement] {
        names.map {
            PhaseStatement(.standalone, "validate the declared foreign key \($0) without blocking writes (its rows were proven by the one it replaced)",
                           "ALTER TABLE \(table) VALIDATE CONSTRAINT \(q($0))")
        }
    }

    /// A constraint added NOT VALID at expand takes its final name at contract; a foreign key
    /// whose declared ON DELETE action waits for contract gives way to the declared one.
    private func finalForeignKey(_ transitional: String, _ final: String, declared: String?) -> PhaseStatement {
        guard let declared else {
            return PhaseStatement(.transaction, "final constraint name",
                                  "ALTER TABLE \(table) RENAME CONSTRAINT \(q(transitional)) TO \(q(final))")
        }
        return PhaseStatement(.transaction,
            "the declared ON DELETE action takes effect: the validated foreign key (every write since checked by it) gives way to the declared one, NOT VALID (validated after commit)",
            "ALTER TABLE \(table)\n  DROP CONSTRAINT \(q(transitional)),\n  ADD CONSTRAINT \(q(final)) \(declared) NOT VALID")
    }

    /// Says, in expand's purpose, which declared ON DELETE actions wait for contract.
    private var deferredActionsNote: String {
        let deferred = transition.allTargets.compactMap { t -> String? in
            guard let declared = t.foreignKeyAtContract, let r = declared.range(of: " ON DELETE ") else { return nil }
            return "\(t.final) ON DELETE \(declared[r.upperBound...])"
        } + transition.constraints.compactMap { c -> String? in
            guard let declared = c.definitionAtContract, let r = declared.range(of: " ON DELETE ") else { return nil }
            return "\(c.final) ON DELETE \(declared[r.upperBound...])"
        }
        return deferred.isEmpty ? "" : " (foreign keys without their declared action until contract, deletes of referenced rows refused meanwhile: "
            + deferred.joined(separator: ", ") + ")"
    }

    /// The replaced columns' statistics targets, storage, compression and privileges, on their replacements.
    private var columnProperties: [PhaseStatement] {
        var statements: [PhaseStatement] = []
        var clauses: [String] = []
        for t in transition.allTargets {
            guard let properties = t.properties else { continue }
            let column = q(t.final)
            if let target = properties.statisticsTarget { clauses.append("ALTER COLUMN \(column) SET STATISTICS \(target)") }
            if let storage = properties.storage { clauses.append("ALTER COLUMN \(column) SET STORAGE \(storage)") }
            if let compression = properties.compression { clauses.append("ALTER COLUMN \(column) SET COMPRESSION \(compression)") }
            if let options = properties.options, !options.isEmpty { clauses.append("ALTER COLUMN \(column) SET (\(options.joined(separator: ", ")))") }
            // Granted at expand; the engine makes them the old column's as they are at contract
            // (`columnPrivileges(of:current:wanted:)`), under contract's lock.
        }
        if !clauses.isEmpty {
            statements.insert(PhaseStatement(.transaction, "the old column's statistics target, storage and compression",
                                             "ALTER TABLE \(table)\n  " + clauses.joined(separator: ",\n  ")), at: 0)
        }
        return statements
    }

    /// `GRANT privilege (column) ON table TO grantee` as the grant's grantor, so that its
    /// grantor's `REVOKE` (and `REVOKE … CASCADE` of the grantor's option) still removes it.
    /// PostgreSQL before 16 accepts `GRANTED BY` only naming the current user, hence `SET ROLE`
    /// (which needs membership in the grantor: a superuser has it). Grantors come before the
    /// grants their grant option allows.
    private func grants(_ grants: [ColumnGrant], on column: String, _ purpose: String) -> [PhaseStatement] {
        Self.grantorOrder(grants).flatMap { grant in
            asGrantor(grant.grantor, purpose,
                "GRANT \(grant.privilege) (\(q(column))) ON \(table) TO \(grant.grantee)\(grant.grantable ? " WITH GRANT OPTION" : "")")
        }
    }

    /// `sql` run as `grantor` (`SET ROLE` … `RESET ROLE`), or as Bellows' role for a grant
    /// stored by an older Bellows without its grantor.
    private func asGrantor(_ grantor: String?, _ purpose: String, _ sql: String) -> [PhaseStatement] {
        guard let grantor else { return [PhaseStatement(.transaction, purpose, sql)] }
        return [PhaseStatement(.transaction, purpose, "SET ROLE \(grantor)"), PhaseStatement(.transaction, purpose, sql),
                PhaseStatement(.transaction, purpose, "RESET ROLE")]
    }

    /// Contract, under its lock: the new column's column-level privileges become exactly the
    /// old column's as they are now (`current` is the new column's, `wanted` the old one's, both
    /// read then), grantors included: a `REVOKE` on the old column during the transition holds
    /// after contract. Nothing when they are equal; otherwise every grant of the new column is
    /// revoked by its grantor (dependent grants first) and the old column's are granted again.
    public func columnPrivileges(of column: String, current: [ColumnGrant], wanted: [ColumnGrant]) -> [PhaseStatement] {
        guard Set(current) != Set(wanted) else { return [] }
        let purpose = "the old column's privileges as they are now"
        let revokes = Self.grantorOrder(current).reversed().flatMap { grant in
            asGrantor(grant.grantor, purpose, "REVOKE \(grant.privilege) (\(q(column))) ON \(table) FROM \(grant.grantee) CASCADE")
        }
        return revokes + grants(wanted, on: column, purpose)
    }

    /// Grants ordered so that each comes after those giving its grantor a grant option on the
    /// column (a grantor whose option is table-level, or the owner, first).
    static func grantorOrder(_ grants: [ColumnGrant]) -> [ColumnGrant] {
        func depth(_ role: String?, _ seen: Set<String>) -> Int {
            guard let role, !seen.contains(role) else { return 0 }
            let sources = grants.filter { $0.grantee == role && $0.grantable && $0.grantor != role }
            return sources.map { 1 + depth($0.grantor, seen.union([role])) }.max() ?? 0
        }
        return grants.enumerated().map { (depth($0.element.grantor, []), $0.offset, $0.element) }
            .sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
    }

    // MARK: rollback

    public var rollback: [PhaseStatement] {
        var statements: [PhaseStatement] = []
        // A deferrable constraint's index (attached at expand) goes with its constraint, or,
        // not attached yet, with its column, in the transaction.
        let attached = Set(transition.recreatedIndexes.filter(\.attachesAtExpand).map(\.transitional))
        for index in addedIndexes where !attached.contains(index.name) {
            statements.append(PhaseStatement(.standalone, "drop an index without blocking writes",
                "DROP INDEX CONCURRENTLY IF EXISTS \(SQLQuote.qualified(schema: transition.table.schema, name: index.name))"))
        }
        if let rename = transition.plan.renameTableTo {
            statements.append(TableRename.dropView(schema: transition.table.schema, name: rename.value))
        }
        // The views read the new columns: they go first.
        statements.append(VersionSchemas(transition).drop(.new))
        statements.append(VersionSchemas(transition).drop(.old))
        // `strategy: views` and a table rename never make a trigger: their rollback touches
        // only the views, and takes no lock on the table (hostile-g 09).
        if transition.plan.strategy != .views && transition.plan.renameTableTo == nil {
            statements.append(PhaseStatement(.transaction, "stop dual writes", "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(table)"))
            statements.append(PhaseStatement(.transaction, "stop dual writes (the trigger's name before Bellows fired it last)", "DROP TRIGGER IF EXISTS \(q(legacyTriggerName)) ON \(table)"))
            statements.append(PhaseStatement(.transaction, "stop dual writes", "DROP FUNCTION IF EXISTS \(qualifiedFunction)()"))
        }
        if !dependencyView.isEmpty {
            statements.append(PhaseStatement(.transaction, "the view recording what up and down use", "DROP VIEW IF EXISTS \(qualifiedDependencyView)"))
        }
        var clauses = (addedConstraints + attached.sorted()).map { "DROP CONSTRAINT IF EXISTS \(q($0))" }
        clauses += transition.newTargets.map { "DROP COLUMN IF EXISTS \(q($0.physical))" }
        if !clauses.isEmpty {
            statements.append(PhaseStatement(.transaction, "remove the new shape", "ALTER TABLE \(table)\n  " + clauses.joined(separator: ",\n  ")))
        }
        return statements
    }

    public func statements(for command: PhaseCommand) -> [PhaseStatement] {
        switch command {
        case .expand: return expand
        case .backfill:
            guard needsBackfill else { return [] }
            let batch = backfillBatch(first: false)
            return [PhaseStatement(.transaction, "one keyset batch, repeated (in one transaction with the saved cursor): its last key", batch.bound),
                    PhaseStatement(.transaction, "the batch's rows, between the cursor and that key", batch.update)]
        case .verify:
            var list: [PhaseStatement] = []
            if let scan = verifyScan { list.append(PhaseStatement(.transaction, "prove every row agrees with up (one scan)", scan)) }
            list += verifyValidations
            list += transition.plan.checks.map { PhaseStatement(.transaction, "check \($0.name.value) must return \($0.expect.value)", $0.sql.text) }
            return list
        case .contract: return contract
        case .rollback: return rollback
        }
    }
}
