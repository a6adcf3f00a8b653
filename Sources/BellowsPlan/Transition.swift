import BellowsSQL

/// Names Bellows gives the objects it creates during a transition. Everything starts with
/// `_bellows_`, which `bellows check` reserves, except the dual-write trigger (`~bellows_`,
/// see `trigger(for:)`).
public enum TransitionNames {
    public static let reservedPrefix = "_bellows_"
    /// The dual-write trigger's prefix: `~` (0x7E) sorts after every letter, digit and `_` in
    /// byte order, which is the order PostgreSQL fires the BEFORE row triggers of a table in,
    /// so the trigger fires after the table's own BEFORE triggers and copies what they wrote
    /// (hostile-d 22). A table's trigger that still sorts after it is refused by a gate.
    public static let triggerPrefix = "~bellows_"
    /// Contract's archive trigger, which fires before the table's own AFTER triggers (its events
    /// read the table's row, so the order no longer decides what it archives).
    public static let firstTriggerPrefix = "!" + reservedPrefix
    public static let maximumIdentifierBytes = 63

    /// Truncates to PostgreSQL's 63-byte identifier limit (or `bytes`) without splitting a
    /// character, as PostgreSQL itself does: for names PostgreSQL gives, never for Bellows' own.
    public static func truncated(_ name: String, toBytes bytes: Int = maximumIdentifierBytes) -> String {
        guard name.utf8.count > bytes else { return name }
        var result = ""
        for character in name {
            if result.utf8.count + String(character).utf8.count > bytes { break }
            result.append(character)
        }
        return result
    }

    /// A name Bellows generates, unique within 63 bytes: `name` when it fits, else a prefix of
    /// it, `_` and the first 8 hex digits of the full name's SHA-256 (two long names sharing a
    /// prefix of any length stay apart, and the same name always gets the same identifier).
    public static func fitted(_ name: String) -> String {
        guard name.utf8.count > maximumIdentifierBytes else { return name }
        return truncated(name, toBytes: maximumIdentifierBytes - 9) + "_" + SHA256.hex(name).prefix(8)
    }

    public static func transitional(_ name: String) -> String { fitted(reservedPrefix + name) }
    public static func shadowColumn(_ final: String) -> String { transitional(final) }
    public static func trigger(for plan: Plan) -> String { fitted("\(triggerPrefix)sync_\(plan.id)") }
    /// The name plans expanded before hostile-d 22 gave their trigger (it fired before the
    /// table's own BEFORE triggers): phases find a plan's trigger under either name.
    public static func legacyTrigger(for plan: Plan) -> String { fitted("\(reservedPrefix)sync_\(plan.id)") }
    public static func function(for plan: Plan) -> String { fitted("sync_\(plan.id)") }
    public static func plainIndex(table: String, column: String) -> String { fitted("\(table)_\(column)_idx") }
    public static func notNullCheck(table: String, column: String) -> String { transitional("\(table)_\(column)_not_null") }
}

/// A column as it will be once the plan is contracted, and how it is filled meanwhile.
public struct TransitionTarget: Sendable, Hashable {
    /// The column's name during the transition (a `_bellows_` shadow when the final name is taken).
    public var physical: String
    /// The column's name after contract.
    public var final: String
    public var type: String
    /// Whether the column exists before expand (an in-place alter).
    public var existing: Bool
    /// The SQL computing the column from the old columns (old, physical names).
    public var up: String?
    public var notNull: Bool
    /// Whether NOT NULL must be added (a validated constraint first, see `NotNullShape`).
    public var addsNotNull: Bool
    public var dropsNotNull: Bool
    /// The default to set at contract; `nil` leaves it as it is.
    public var defaultAtContract: DefaultChange?
    /// CHECK over physical names, added NOT VALID at expand and validated at verify.
    public var check: String?
    public var unique: Bool
    /// `FOREIGN KEY (…) REFERENCES …` for the column, explicit or carried over from the replaced column.
    public var foreignKey: String?
    public var comment: String?
    /// Final names of the constraints this column gets (checked free in the table).
    public var checkName: String
    public var foreignKeyName: String
    public var uniqueName: String
    /// Plain single-column indexes of the replaced column, rebuilt on this one.
    public var rebuiltIndexes: [IndexInfo]
    /// The replaced column's collation, given to this one at expand.
    public var collation: String? = nil
    /// The replaced column's statistics target, storage, compression and privileges, set at contract.
    public var properties: ColumnDetails? = nil
    /// The sequence the replaced column owned (`serial`): owned by this column before contract drops the old one.
    public var reownedSequence: String? = nil
    /// The integer type that sequence takes at contract (`ALTER SEQUENCE … AS bigint`), when this
    /// column's type is another integer type than the sequence's (a widened `serial`).
    public var sequenceType: String? = nil
    /// The replaced column was an identity: this one becomes one at contract, its sequence
    /// continuing where the old one stopped and taking its name.
    public var identity: IdentityCarry? = nil
    /// PostgreSQL 18+: the name the replaced column's NOT NULL constraint had, as this column's
    /// takes it at contract (the column's token renamed); `nil` for PostgreSQL's own name.
    public var notNullName: String? = nil
    /// The replaced column's unique index was the table's REPLICA IDENTITY: this column's takes its place.
    public var replicaIdentity: Bool = false
    /// The plan's foreign key with its declared ON DELETE action (over the final name), when that
    /// action deletes or rewrites rows: `foreignKey` carries none until contract replaces it with this.
    public var foreignKeyAtContract: String? = nil
    /// Which of the replaced column's constraints this one does not inherit (`carry:`).
    public var carry: CarryOptions? = nil
    /// `unique: false` in place: the column's own unique index (or UNIQUE constraint), dropped at contract.
    public var dropsUnique: IndexInfo? = nil
    /// `comment: null`: the column's comment is removed at contract (a replaced column's is not carried).
    public var removesComment: Bool = false
    /// The replaced column's default, carried to a new type through `up` (`defaultAtContract`).
    public var convertsDefault: Bool = false

    public var isShadow: Bool { physical != final }
}

public enum DefaultChange: Sendable, Hashable {
    case set(String)
    case drop
}

/// One synchronised pair of shapes: old columns (`sources`) and new ones (`targets`), with
/// `up` from old to new and `down` from new to old. The dual-write trigger keeps the two
/// sides equal whichever side a writer uses.
public struct SyncGroup: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// New columns computed from old ones (rename, retype, split, merge).
        case replace
        /// An existing column normalised in place by `up`, or only constrained.
        case inPlace
        /// A new column computed from existing ones for existing rows.
        case add
        /// An old column kept filled by `down` until contract drops it.
        case drop
    }

    public var kind: Kind
    public var changeIndex: Int
    public var location: SourceLocation
    public var sources: [String]
    public var targets: [TransitionTarget]
    /// Old column ← expression over physical names of the targets.
    public var downs: [(column: String, type: String, expression: String)]
    public var dropsAtContract: [String]

    public static func == (lhs: SyncGroup, rhs: SyncGroup) -> Bool {
        lhs.kind == rhs.kind && lhs.changeIndex == rhs.changeIndex && lhs.sources == rhs.sources
            && lhs.targets == rhs.targets && lhs.dropsAtContract == rhs.dropsAtContract
            && lhs.downs.map { "\($0.column)|\($0.type)|\($0.expression)" } == rhs.downs.map { "\($0.column)|\($0.type)|\($0.expression)" }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind); hasher.combine(changeIndex); hasher.combine(sources); hasher.combine(targets)
    }

    /// Whether the backfill has anything to compute for this group.
    public var needsBackfill: Bool { targets.contains { $0.up != nil } }
}

/// A plan resolved against the table it changes: what exactly expand adds, what the trigger
/// keeps in sync, what contract drops and renames.
public struct Transition: Sendable, Hashable {
    public var plan: Plan
    public var table: TableInfo
    public var groups: [SyncGroup]
    /// The batch key with each column's type.
    public var key: [ColumnInfo]
    /// The schemas (after `pg_catalog`, before `pg_temp`) every name in the plan's expressions
    /// resolves in, whoever writes: the expanding session's, kept in the plan's state. `nil`
    /// offline (`bellows render`), where `PhaseSQL.defaultSearchPath` stands in.
    public var searchPath: [String]? = nil
    /// The values of `PhaseSQL.pinnedSettings` the trigger's function and every phase keep:
    /// the expanding session's, kept in the plan's state. `nil` offline, where the function
    /// shows PostgreSQL's built-in ones (`PhaseSQL.builtInSettingValues`).
    public var pinnedValues: [String: String]? = nil
    /// Expand found that every `up` and `down` computes the same under every setting
    /// (`SettingsIndependence`): the trigger's function it makes keeps none
    /// (`PhaseSQL.pinnedSettings`), while `pinnedValues` stay in the plan's state for every
    /// later phase's session (the plan's checks). Only expand makes the function; `false`
    /// offline and in later phases.
    public var settingsIndependent = false
    /// The types among `comparedTypes` that have no default equality, as the engine found them
    /// in `pg_catalog`; `nil` offline, where `PhaseSQL` knows the built-in ones. Verify asks a
    /// round trip through `down` and `up` to be equal (by `=`) where a type has it.
    public var typesWithoutEquality: Set<String>? = nil
    /// Functions the plan's `up`/`backfill` expressions call that the database marks volatile
    /// (`pg_proc.provolatile = 'v'`), as the engine found them (user-defined ones included);
    /// empty offline, where `Repeatability` knows the built-in ones.
    public var volatileFunctions: Set<String> = []

    /// The types of the values verify compares with `=`: every target's.
    public var comparedTypes: Set<String> { Set(allTargets.map(\.type)) }
    /// How NOT NULL is added: the shape expand recorded for the plan, or offline the one of the
    /// server version `bellows render` renders for.
    public var notNullShape: NotNullShape = .check
    /// Indexes and constraints over replaced columns rebuilt on their replacements.
    public var recreatedIndexes: [RecreatedIndex] = []
    public var recreatedConstraints: [RecreatedConstraint] = []
    /// Every object and property depending on a replaced column, and what the plan does with it.
    public var carried: [CarriedItem] = []
    /// The plan's table-level constraint changes (`add_unique`, `add_foreign_key`, `add_check`,
    /// `drop_constraint`), resolved.
    public var constraints: [PlannedConstraint] = []

    public var tableName: TableName { TableName(schema: table.schema, name: table.name) }
    public var quotedTable: String { SQLQuote.qualified(schema: table.schema, name: table.name) }
    public var allTargets: [TransitionTarget] { groups.flatMap(\.targets) }
    public var newTargets: [TransitionTarget] { allTargets.filter { !$0.existing } }
    /// The columns the backfill writes (physical names): the targets computed by `up`.
    public var backfilledColumns: [String] { allTargets.filter { $0.up != nil }.map(\.physical) }
    public var droppedColumns: [String] { groups.flatMap(\.dropsAtContract) }
    /// Each old column dropped at contract with the one new column replacing it (its physical
    /// name during the transition): the new column takes the old one's privileges.
    public var replacedColumns: [(old: String, new: String)] {
        groups.compactMap { g in
            guard g.kind == .replace, g.sources.count == 1, g.targets.count == 1, let t = g.targets.first, !t.existing,
                  let old = g.sources.first, g.dropsAtContract.contains(old) else { return nil }
            return (old, t.physical)
        }
    }
    /// Whether the backfill rewrites values old code reads (an in-place change with `up`).
    public var rewritesVisibleValues: Bool { groups.contains { $0.kind == .inPlace && $0.needsBackfill } }
    public var needsTrigger: Bool {
        groups.contains { group in
            switch group.kind {
            case .replace, .add: return true
            case .inPlace: return group.targets.contains { $0.up != nil }
            case .drop: return !group.downs.isEmpty
            }
        }
    }
}

/// Resolves a plan against a table's catalog, reporting at the plan's locations what does not fit.
public enum TransitionCompiler {
    /// Words that PostgreSQL reads as values whatever columns the table has: the SQL-standard
    /// functions without parentheses (`SQLValueFunction`s: `USER` is `CURRENT_USER`, and
    /// `SYSTEM_USER` is one from PostgreSQL 16 on) and the constants `NULL`, `TRUE`, `FALSE`.
    /// Unquoted, they never name a column. `ValueKeywordServerTests` asks each server it runs
    /// on for every keyword it reads so, against this list.
    public static let valueKeywords: Set<String> = [
        "USER", "CURRENT_USER", "SESSION_USER", "SYSTEM_USER", "CURRENT_ROLE", "CURRENT_CATALOG", "CURRENT_SCHEMA",
        "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP",
        "NULL", "TRUE", "FALSE",
    ]

    /// What PostgreSQL reads an unquoted value keyword as.
    static func valueKeywordMeaning(_ upper: String) -> String {
        switch upper {
        case "USER": return "PostgreSQL's CURRENT_USER"
        case "NULL", "TRUE", "FALSE": return "the constant \(upper)"
        default: return "PostgreSQL's \(upper)"
        }
    }

    /// An expression that writes `user` for a column named `user` computes the current role's
    /// name for every row, and verify, which evaluates the same expression, agrees with it: the
    /// column's values would be lost without a word. Such a word must be quoted.
    static func keywordColumnFindings(_ plan: Plan, columns: Set<String>) -> [Finding] {
        var findings: [Finding] = []
        for expression in PlanValidator.expressions(of: plan) {
            for token in Lexer.tokenize(expression.value.text) where token.kind == .word && valueKeywords.contains(token.upper) {
                let column = token.text.lowercased()
                guard columns.contains(column) else { continue }
                findings.append(Finding(
                    at: expression.value.sourceLocation(line: token.line, column: token.column), severity: .error, rule: "plan-keyword-column",
                    message: "\(expression.key): unquoted \(token.text) is \(valueKeywordMeaning(token.upper)), not the column \"\(column)\"; write \(SQLQuote.identifier(column)) for the column"))
            }
        }
        return findings
    }

    /// Columns every table has that `SELECT NEW.*` does not: the dual-write trigger cannot read them.
    static let systemColumns: Set<String> = ["tableoid", "xmin", "xmax", "cmin", "cmax", "ctid"]

    /// The dual-write trigger evaluates `up`, `backfill` and `down` over the written row, `FROM
    /// (SELECT NEW.*) AS bellows_row`: the table's name is not in scope there and the row has no
    /// system columns. A table-qualified column (`users.email`, `public.users.email`), the whole
    /// row (`to_jsonb(users)`) or a system column (`tableoid`, `xmin`…) would make every write
    /// fail once the trigger exists (hostile-d 27). `columns`: the table's and the plan's names.
    static func tableReferenceFindings(_ plan: Plan, table: TableInfo, columns: Set<String>) -> [Finding] {
        var findings: [Finding] = []
        for expression in PlanValidator.expressions(of: plan) where ["up", "down", "backfill"].contains(expression.key) {
            let tokens = Lexer.tokenize(expression.value.text).filter(\.isSignificant)
            for (index, token) in tokens.enumerated() {
                // What follows a `;` is no part of the expression (`plan-expression` refuses it).
                if token.isSymbol(";") { break }
                guard token.kind == .word || token.kind == .quotedIdentifier, let name = token.identifierValue else { continue }
                let previous = index > 0 ? tokens[index - 1] : nil
                let next = index + 1 < tokens.count ? tokens[index + 1] : nil
                // A function's name, a type's (`::users`, `AS users`, `users '(…)'`), a collation's.
                if next?.isSymbol("(") == true || next?.kind == .string { continue }
                if let p = previous, p.isSymbol("::") || p.isKeyword("AS") || p.isKeyword("COLLATE") { continue }
                // After a dot: only `schema.table` of this table; anything else is a field or a qualified name.
                var schemaQualified = false
                if previous?.isSymbol(".") == true {
                    guard name == table.name, index >= 2, tokens[index - 2].kind == .word || tokens[index - 2].kind == .quotedIdentifier,
                          tokens[index - 2].identifierValue == table.schema, index < 3 || !tokens[index - 3].isSymbol(".") else { continue }
                    schemaQualified = true
                }
                let location = expression.value.sourceLocation(line: token.line, column: token.column)
                func refuse(_ message: String) {
                    findings.append(Finding(at: location, severity: .error, rule: "plan-table-reference", message: "\(expression.key): " + message))
                }
                let scope = "which is not in scope where the dual-write trigger computes the value (FROM (SELECT NEW.*), the written row): every INSERT and UPDATE would fail from expand on"
                if name == table.name, next?.isSymbol(".") == true {
                    let field = index + 2 < tokens.count ? tokens[index + 2].text : "column"
                    refuse(field == "*"
                        ? "\(token.text).* names the table, \(scope); name the columns"
                        : "\(token.text).\(field) names the table, \(scope); write \(field), not \(token.text).\(field)")
                } else if name == table.name, schemaQualified || !columns.contains(name) {
                    refuse("\(token.text) is the table's whole row, \(scope); name the columns instead (jsonb_build_object('email', email, …), not to_jsonb(\(token.text)))")
                } else if !schemaQualified, token.kind == .word, Self.systemColumns.contains(name), !columns.contains(name) {
                    refuse("\(token.text) is a system column, \(scope)")
                }
            }
        }
        return findings
    }

    /// Generated columns (`GENERATED ALWAYS AS (…) STORED`, PostgreSQL 18's `VIRTUAL`): a plan
    /// cannot rebuild one (the new column would be a plain one without the expression, and
    /// nothing may write the old one), and an `up`, `backfill` or `down` cannot read one:
    /// PostgreSQL computes it after BEFORE row triggers, so in the dual-write trigger it is NULL
    /// on every INSERT and UPDATE, while the backfill and verify read its value (hostile-d 17, 21).
    static func generatedColumnFindings(_ plan: Plan, table: TableInfo) -> [Finding] {
        let generated = Set(table.columns.filter { $0.generated != nil }.map(\.name))
        guard !generated.isEmpty else { return [] }
        var findings: [Finding] = []
        var refused: Set<String> = []
        func refuse(_ column: Located<String>, _ what: String) {
            guard generated.contains(column.value) else { return }
            refused.insert(column.value)
            findings.append(Finding(
                at: column.location, severity: .error, rule: "plan-generated-column",
                message: "\"\(column.value)\" is a generated column (GENERATED ALWAYS AS (…)): PostgreSQL computes its values from its expression and nothing may write them, so a plan cannot \(what) it (a new column would be a plain one, without the expression); change it with a migration"))
        }
        for change in plan.changes {
            switch change {
            case .alter(let c):
                if c.renameTo != nil || c.type != nil {
                    refuse(c.column, c.type != nil ? "change the type of" : "rename")
                } else if c.up != nil || c.attributes.defaultValue != nil || c.attributes.dropDefault != nil {
                    refuse(c.column, "rewrite (up) or give a default to")
                }
            case .drop(let c):
                if c.down != nil { refuse(c.column, "keep filling (down) while it drops") }
            case .split(let c):
                refuse(c.column, "split")
            case .merge(let c):
                for column in c.columns { refuse(column, "merge") }
            case .add:
                break
            }
        }
        let readable = generated.subtracting(refused)
        for expression in PlanValidator.expressions(of: plan) where ["up", "down", "backfill"].contains(expression.key) {
            let tokens = Lexer.tokenize(expression.value.text).filter(\.isSignificant)
            for (index, token) in tokens.enumerated() {
                guard token.kind == .word || token.kind == .quotedIdentifier, let name = token.identifierValue, readable.contains(name) else { continue }
                if index > 0, tokens[index - 1].isSymbol(".") || tokens[index - 1].isSymbol("::") { continue }
                if index + 1 < tokens.count, tokens[index + 1].isSymbol("(") { continue }
                findings.append(Finding(
                    at: expression.value.sourceLocation(line: token.line, column: token.column), severity: .error, rule: "plan-generated-column",
                    message: "\(expression.key) reads \"\(name)\", a generated column: PostgreSQL computes it after BEFORE row triggers, so the dual-write trigger would read NULL for it on every INSERT and UPDATE (the backfill and verify read its value); compute from the columns it is generated from instead (its expression)"))
            }
        }
        return findings
    }

    public static func compile(_ plan: Plan, table: TableInfo?) -> (transition: Transition?, findings: [Finding]) {
        var findings: [Finding] = []
        func error(_ location: SourceLocation, _ rule: String, _ message: String) {
            findings.append(Finding(at: location, severity: .error, rule: rule, message: message))
        }
        guard let table else {
            error(plan.table.location, "plan-unknown-table", "table \(plan.table.value) does not exist")
            return (nil, findings)
        }
        let tableName = table.name
        let replaced = Set(plan.changes.flatMap { change -> [String] in
            switch change {
            case .alter(let c): return (c.renameTo != nil || c.type != nil) ? [c.column.value] : []
            case .drop(let c): return [c.column.value]
            case .split(let c): return [c.column.value]
            case .merge(let c): return c.columns.map(\.value)
            case .add: return []
            }
        })
        func existingColumn(_ name: Located<String>) -> ColumnInfo? {
            guard let column = table.column(name.value) else {
                var message = "column \"\(name.value)\" does not exist in \(table.schema).\(tableName)"
                if let s = Suggestion.closest(to: name.value, in: table.columns.map(\.name)) { message += "; did you mean \"\(s)\"?" }
                error(name.location, "plan-unknown-column", message)
                return nil
            }
            return column
        }
        func newName(_ name: Located<String>) -> String? {
            if table.column(name.value) != nil && !replaced.contains(name.value) {
                error(name.location, "plan-column-exists", "column \"\(name.value)\" already exists in \(table.schema).\(tableName)")
                return nil
            }
            return replaced.contains(name.value) ? TransitionNames.shadowColumn(name.value) : name.value
        }
        func target(physical: String, final: String, type: String, up: String?, attributes: ColumnAttributes,
                    inheritFrom old: ColumnInfo?, existing: Bool, carry: CarryOptions? = nil, at location: SourceLocation) -> TransitionTarget {
            let wantsNotNull = attributes.notNull?.value ?? old?.notNull ?? false
            let wasNotNull = existing ? (old?.notNull ?? false) : false
            var defaultChange: DefaultChange?
            var convertsDefault = false
            if let value = attributes.defaultValue {
                defaultChange = .set(value.text)
                if let problem = DefaultFit.problem(value.text, type: type) {
                    error(value.location, "plan-default-type", "default \(value.text) does not fit \(type): \(problem)")
                }
            } else if attributes.dropDefault?.value == true {
                defaultChange = existing ? .drop : nil
            } else if let old, let inherited = old.defaultExpression, !existing || up != nil {
                // The replaced column's default, carried over. An `up` that changes values (a
                // unit, a normalisation, a type) converts it the same way, with or without a type
                // change and in place too: after contract it is what old code's inserts relied on
                // (hostile-d 02). In place the old default stays until contract.
                let identity = up.map { DefaultFit.isIdentity($0, column: old.name) } ?? true
                let columns = Set(table.columns.map(\.name))
                if identity && (existing || DefaultFit.sameType(type, old.type)) {
                    if !existing { defaultChange = .set(inherited) }
                } else if !existing, DefaultFit.isSequenceDefault(inherited),
                          DefaultFit.category(old.type) == .integer, DefaultFit.category(type) == .integer {
                    // A counter (`serial`) moving to another integer type: nextval() gives a bigint,
                    // stored in the new type as it is. Converted through `up` it would pass through
                    // the old type and stop at its limit (hostile-d 37); its sequence takes the new
                    // type at contract (`Carryover`).
                    defaultChange = .set(inherited)
                } else if let up, let converted = DefaultFit.converted(inherited, type: old.type, up: up, column: old.name, columns: columns) {
                    if DefaultFit.readCount(of: old.name, in: up) > 1, let call = DefaultFit.mayVary(inherited) {
                        // A default cannot hold a subquery, so `up` would run it once per reference.
                        error(location, "plan-default-type",
                              "the default \(inherited) of \"\(old.name)\" calls \(call)(), which may give another value each time, and 'up' reads \"\(old.name)\" more than once: converted through up it would run several times per insert; state the default after contract with 'default:' or 'drop_default: true'")
                    } else {
                        defaultChange = .set(converted)
                        convertsDefault = true
                    }
                } else {
                    error(location, "plan-default-type",
                          "the default \(inherited) of \"\(old.name)\" cannot be converted through 'up', which reads other columns (a default cannot): state the default after contract with 'default:' (a value of type \(type)) or 'drop_default: true'")
                }
            }
            let renames = physical == final ? [:] : [final: physical]
            // A UNIQUE constraint of the old column is one again on the new column (unless the plan
            // says otherwise); a unique index without a constraint is recreated as the index it is
            // (`Carryover`), also when the plan restates `unique: true`.
            let oldUnique = old.flatMap { table.uniqueIndex(on: $0.name) }
            // A deferrable one, or one in another tablespace or marked for CLUSTER, is recreated from its definition too.
            let unique = oldUnique.map { $0.isConstraint && table.rebuildsFromColumns($0) && (attributes.unique?.value ?? (carry?.carriesUnique ?? true)) }
                ?? (attributes.unique?.value ?? false)
            let rebuilt = existing ? [] : (old.map { o in table.indexes.filter { table.rebuildsFromColumns($0) && !$0.isUnique && $0.columns == [o.name] } } ?? [])
            var foreignKey: String?
            var foreignKeyAtContract: String?
            if let fk = attributes.references, existing, let present = table.foreignKey(on: physical) {
                // A foreign key the column already has: restating it changes nothing; another one is not replaced in place.
                if !DefaultFit.sameForeignKey(present.definition, fk) {
                    error(fk.location, "plan-no-effect",
                          "\"\(physical)\" already has foreign key \(present.name) (\(present.definition)); an in-place change does not replace it: drop it with a migration first, or rebuild the column (rename_to or type)")
                }
            } else if let fk = attributes.references {
                func definition(_ column: String) -> String {
                    "FOREIGN KEY (\(SQLQuote.identifier(column))) REFERENCES \(fk.tableName.quoted) (\(SQLQuote.identifier(fk.column.value)))"
                }
                // An action that deletes or rewrites rows waits for contract: until then old
                // code's deletes are refused (no action), never cascaded into rows rollback keeps.
                if let action = fk.onDelete, action.changesRows {
                    foreignKey = definition(physical)
                    foreignKeyAtContract = definition(final) + " ON DELETE \(action.sql)"
                } else {
                    foreignKey = definition(physical) + (fk.onDelete.map { " ON DELETE \($0.sql)" } ?? "")
                }
            } else if !existing, carry?.carriesReferences ?? true, let old, let inherited = table.foreignKey(on: old.name), !inherited.isUnvalidated,
                      let range = inherited.definition.range(of: ")") {
                // (A NOT VALID or NOT ENFORCED one is carried as it is by `Carryover`.)
                foreignKey = "FOREIGN KEY (\(SQLQuote.identifier(physical))" + inherited.definition[range.lowerBound...]
            }
            // `unique: false` in place drops the column's own unique index (or UNIQUE constraint) at contract.
            var dropsUnique: IndexInfo?
            if existing, let flag = attributes.unique, !flag.value {
                if table.primaryKey == [physical] {
                    error(flag.location, "plan-no-effect", "\"\(physical)\" is the primary key of \(table.schema).\(tableName): 'unique: false' cannot drop it; change the key with a migration")
                } else if let index = table.uniqueIndex(on: physical) {
                    if let users = table.details?.indexReferences?[index.name], !users.isEmpty {
                        // PostgreSQL refuses to drop the index (or its constraint) a foreign key
                        // references: contract would fail every time (hostile-d 28).
                        error(flag.location, "plan-dependent-object",
                              "\(index.isConstraint ? "UNIQUE constraint" : "unique index") \(index.name) of \"\(physical)\" is referenced by "
                                + users.joined(separator: ", ") + ": 'unique: false' would drop it, which PostgreSQL refuses while a foreign key "
                                + "depends on it; drop that foreign key with a migration first, then make the column non-unique")
                    } else {
                        dropsUnique = index
                    }
                } else {
                    findings.append(Finding(at: flag.location, severity: .warning, rule: "plan-no-effect",
                                            message: "\"\(physical)\" has no unique index or UNIQUE constraint of its own: 'unique: false' changes nothing"))
                }
            }
            func name(_ base: String) -> String { existing ? table.freeName(TransitionNames.fitted(base)) : TransitionNames.fitted(base) }
            /// A carried constraint keeps the old one's name, the column's token renamed (hostile-d 04:
            /// `fk_items_owner` stays, `items_parent_id_fkey` becomes `items_owner_id_fkey`).
            func carriedName(_ constraint: ConstraintInfo?, else base: String) -> String {
                guard !existing, let constraint, let column = constraint.columns.first else { return name(base) }
                return TransitionNames.fitted(TransitionNames.renamingColumns(in: constraint.name, [column: final]))
            }
            let oldForeignKey = (carry?.carriesReferences ?? true) ? old.flatMap { table.foreignKey(on: $0.name) } : nil
            let oldUniqueConstraint = oldUnique.flatMap { index in index.isConstraint && (carry?.carriesUnique ?? true)
                ? table.constraints.first { $0.name == index.name && $0.kind == "u" } : nil }
            var t = TransitionTarget(
                physical: physical, final: final, type: type, existing: existing, up: up,
                notNull: wantsNotNull, addsNotNull: wantsNotNull && !wasNotNull, dropsNotNull: existing && wasNotNull && !wantsNotNull,
                defaultAtContract: defaultChange,
                check: attributes.check.map { ExpressionRewriter.renameColumns(in: $0.text, renames) },
                unique: existing ? (attributes.unique?.value == true && table.uniqueIndex(on: physical) == nil) : unique,
                foreignKey: foreignKey, comment: attributes.comment?.value,
                checkName: name("\(tableName)_\(final)_check"), foreignKeyName: carriedName(oldForeignKey, else: "\(tableName)_\(final)_fkey"),
                uniqueName: carriedName(oldUniqueConstraint, else: "\(tableName)_\(final)_key"), rebuiltIndexes: rebuilt, foreignKeyAtContract: foreignKeyAtContract,
                carry: carry)
            // The copy strategy's trigger takes a NULL in the new column of an INSERT for a
            // column old code left out, so new code's explicit NULL gets `up` of the old column's
            // default (hostile-g 04). With versioned schemas the trigger knows the new version.
            if !existing, plan.strategy != .views, !plan.versionedSchemas, let old,
               let inherited = old.defaultExpression, !DefaultFit.isSequenceDefault(inherited) {
                findings.append(Finding(at: location, severity: .info, rule: "plan-null-becomes-default",
                                        message: "\"\(old.name)\" has a default (\(inherited)): until contract, an INSERT by new code that writes NULL into \"\(final)\" "
                                            + "stores the default instead (the dual-write trigger cannot tell it from old code leaving \"\(final)\" out); "
                                            + "set versioned_schemas: true so new code writes through its own schema and its NULL is kept"))
            }
            t.dropsUnique = dropsUnique
            t.convertsDefault = convertsDefault
            t.removesComment = attributes.removesComment != nil
            return t
        }

        var groups: [SyncGroup] = []
        for (index, change) in plan.changes.enumerated() {
            switch change {
            case .alter(let c):
                guard let old = existingColumn(c.column) else { continue }
                if plan.strategy == .views, let renameTo = c.renameTo, c.type == nil {
                    // `strategy: views`: the column itself takes the new name at contract
                    // (`ALTER TABLE … RENAME COLUMN`); until then the new version's view reads it
                    // under that name. No new column, trigger or backfill (`ViewsStrategy`).
                    guard newName(renameTo) != nil else { continue }
                    let t = target(physical: old.name, final: renameTo.value, type: old.type, up: nil, attributes: c.attributes,
                                   inheritFrom: old, existing: true, at: c.column.location)
                    // A publication's column list naming the column would send it under the new
                    // name from contract on; a subscriber matches columns by name and stops
                    // applying the whole subscription (hostile-g 01). (One sending the table
                    // whole is expand's `publication` gate.)
                    for dependent in table.details?.dependents ?? [] where dependent.kind == .publication && dependent.column == old.name {
                        error(renameTo.location, ViewsStrategy.rule,
                              "\(dependent.description) lists \"\(old.name)\": contract's RENAME COLUMN would send it as \"\(renameTo.value)\", and a subscriber, "
                                + "which matches columns by name, stops applying the whole subscription (rollback cannot undo it); use strategy: copy "
                                + "(subscribers add the new column before contract), or take \"\(old.name)\" out of the publication's column list first")
                    }
                    groups.append(SyncGroup(kind: .inPlace, changeIndex: index, location: c.column.location, sources: [old.name],
                                            targets: [t], downs: [], dropsAtContract: []))
                } else if c.renameTo != nil || c.type != nil {
                    guard let physical = newName(c.renameTo ?? c.column) else { continue }
                    let final = c.finalName
                    let type = c.type?.value ?? old.type
                    let up = c.up?.text ?? SQLQuote.identifier(old.name)
                    let down = c.down.map { ExpressionRewriter.renameColumns(in: $0.text, [final: physical]) } ?? SQLQuote.identifier(physical)
                    let t = target(physical: physical, final: final, type: type, up: up, attributes: c.attributes, inheritFrom: old,
                                   existing: false, carry: c.carry, at: c.type?.location ?? c.column.location)
                    groups.append(SyncGroup(kind: .replace, changeIndex: index, location: c.column.location, sources: [old.name],
                                            targets: [t], downs: [(old.name, old.type, down)], dropsAtContract: [old.name]))
                } else {
                    let t = target(physical: old.name, final: old.name, type: old.type, up: c.up?.text, attributes: c.attributes, inheritFrom: old, existing: true,
                                   at: c.column.location)
                    groups.append(SyncGroup(kind: .inPlace, changeIndex: index, location: c.column.location, sources: [old.name],
                                            targets: [t], downs: [], dropsAtContract: []))
                }
            case .add(let c):
                guard let physical = newName(c.column) else { continue }
                // Without `backfill`, existing rows and rows old code inserts get the `default`
                // (the column itself only gets it at contract, so that `backfill` can tell them apart).
                let t = target(physical: physical, final: c.column.value, type: c.type.value,
                               up: c.backfill?.text ?? c.attributes.defaultValue?.text,
                               attributes: c.attributes, inheritFrom: nil, existing: false, at: c.column.location)
                groups.append(SyncGroup(kind: .add, changeIndex: index, location: c.column.location, sources: [],
                                        targets: [t], downs: [], dropsAtContract: []))
            case .drop(let c):
                guard let old = existingColumn(c.column) else { continue }
                if old.notNull && old.defaultExpression == nil && c.down == nil {
                    error(c.column.location, "plan-missing-down",
                          "\"\(old.name)\" is NOT NULL without a default: new code will not write it, so give 'down' to keep filling it until contract")
                }
                groups.append(SyncGroup(kind: .drop, changeIndex: index, location: c.column.location, sources: [old.name], targets: [],
                                        downs: c.down.map { [(old.name, old.type, $0.text)] } ?? [], dropsAtContract: [old.name]))
            case .split(let c):
                guard let old = existingColumn(c.column) else { continue }
                var targets: [TransitionTarget] = []
                for into in c.into {
                    guard let physical = newName(into.column) else { continue }
                    targets.append(target(physical: physical, final: into.column.value, type: into.type.value, up: into.up.text,
                                          attributes: into.attributes, inheritFrom: nil, existing: false, at: into.column.location))
                }
                let renames = Dictionary(targets.map { ($0.final, $0.physical) }, uniquingKeysWith: { a, _ in a })
                let down = c.down.map { ExpressionRewriter.renameColumns(in: $0.text, renames) }
                if c.down == nil {
                    error(c.column.location, "plan-missing-down", "a split needs 'down' to rebuild \"\(old.name)\" for old code from the new columns")
                }
                groups.append(SyncGroup(kind: .replace, changeIndex: index, location: c.column.location, sources: [old.name], targets: targets,
                                        downs: down.map { [(old.name, old.type, $0)] } ?? [], dropsAtContract: [old.name]))
            case .merge(let c):
                let olds = c.columns.compactMap { existingColumn($0) }
                guard olds.count == c.columns.count, let physical = newName(c.into) else { continue }
                let t = target(physical: physical, final: c.into.value, type: c.type.value, up: c.up.text,
                               attributes: c.attributes, inheritFrom: nil, existing: false, at: c.into.location)
                var downs: [(column: String, type: String, expression: String)] = []
                for old in olds {
                    if let d = c.down[old.name] {
                        downs.append((old.name, old.type, ExpressionRewriter.renameColumns(in: d.text, [c.into.value: physical])))
                    } else {
                        error(c.into.location, "plan-missing-down", "a merge needs 'down.\(old.name)' to rebuild \"\(old.name)\" for old code")
                    }
                }
                groups.append(SyncGroup(kind: .replace, changeIndex: index, location: c.into.location, sources: olds.map(\.name),
                                        targets: [t], downs: downs, dropsAtContract: olds.map(\.name)))
            }
        }
        // A table rename alone walks no rows (no backfill, no verify scan): it needs no key (hostile-h 22).
        guard let keyNames = table.batchKey ?? (plan.renamesTableOnly ? [] : nil) else {
            error(plan.table.location, "plan-no-key",
                  "\(table.schema).\(tableName) has neither a primary key nor a unique index over NOT NULL columns (with their own collations, without a predicate or an expression): backfill batches need one to walk the table")
            return (nil, findings)
        }
        let droppedKey = keyNames.filter { name in groups.contains { $0.dropsAtContract.contains(name) } }
        if !droppedKey.isEmpty {
            error(plan.table.location, "plan-changes-key", "the plan replaces \(droppedKey.joined(separator: ", ")), part of the table's key; change the key in its own migration")
        }
        let key = keyNames.compactMap { table.column($0) }
        let columnNames = Set(table.columns.map(\.name)).union(groups.flatMap(\.targets).flatMap { [$0.final, $0.physical] })
        findings += keywordColumnFindings(plan, columns: columnNames)
        findings += tableReferenceFindings(plan, table: table, columns: columnNames)
        findings += generatedColumnFindings(plan, table: table)
        let constraints = TableConstraints.resolve(plan, table: table, groups: groups)
        findings += constraints.findings
        guard !findings.hasErrors else { return (nil, findings) }
        // What depends on the replaced columns: carried, recreated, dropped or refused.
        let carryover = Carryover.resolve(table: table, groups: &groups, plan: plan)
        findings += carryover.findings
        guard !findings.hasErrors else { return (nil, findings) }
        let transition = Transition(plan: plan, table: table, groups: groups, key: key, recreatedIndexes: carryover.indexes,
                                    recreatedConstraints: carryover.constraints, carried: carryover.report,
                                    constraints: constraints.constraints)
        findings += GeneratedNames.collisions(in: transition)
        return (findings.hasErrors ? nil : transition, findings)
    }
}

extension Transition {
    /// The columns that no longer exist under their name once contract ran (renamed or dropped;
    /// a column whose type changed keeps its name), in plan order.
    public var goneAtContract: [String] {
        let finals = Set(allTargets.map(\.final))
        return droppedColumns.filter { !finals.contains($0) } + renamedInPlace.map(\.old)
    }

    /// The columns contract renames in place (`strategy: views`): each keeps its attribute
    /// number, and with it every property, under its new name.
    public var renamedInPlace: [(old: String, new: String)] {
        allTargets.filter { $0.existing && $0.isShadow }.map { ($0.physical, $0.final) }
    }

    /// The table once the plan is contracted, as contract leaves it: replaced and dropped
    /// columns gone with their indexes and constraints, each replacement at the end of the table
    /// under its final name (contract drops the old column and renames the new one), with its
    /// type, nullability and default; the indexes and constraints the plan creates, rebuilds or
    /// recreates under their final names. What a later plan on the table is checked against
    /// (`PlanChain`, and live for plans in flight); pure.
    public var tableAfterContract: TableInfo {
        var result = table
        let dropped = Set(droppedColumns)
        let sql = PhaseSQL(self)
        // Physical (transition) and old names → final names.
        var finals: [String: String] = [:]
        for t in allTargets where t.isShadow { finals[t.physical] = t.final }
        for (old, new) in replacedColumns { finals[old] = allTargets.first { $0.physical == new }?.final ?? new }
        func final(_ columns: [String]) -> [String] { columns.map { finals[$0] ?? $0 } }
        func overFinal(_ definition: String) -> String {
            ExpressionRewriter.renameColumns(in: definition, allTargets.filter(\.isShadow).reduce(into: [:]) { $0[$1.physical] = $1.final })
        }
        result.columns.removeAll { dropped.contains($0.name) }
        result.indexes.removeAll { !dropped.isDisjoint(with: table.columns(of: $0)) }
        result.constraints.removeAll { !dropped.isDisjoint(with: $0.columns) }
        if !dropped.isDisjoint(with: result.primaryKey) { result.primaryKey = [] }
        let droppedUnique = Set(allTargets.compactMap(\.dropsUnique?.name))
        result.indexes.removeAll { droppedUnique.contains($0.name) }
        result.constraints.removeAll { droppedUnique.contains($0.name) }
        for target in allTargets {
            var column = (target.existing ? table.column(target.physical) : nil)
                ?? ColumnInfo(name: target.final, type: target.type, notNull: target.notNull)
            column.name = target.final
            column.type = target.type
            column.notNull = target.notNull
            switch target.defaultAtContract {
            case .set(let expression)?: column.defaultExpression = expression
            case .drop?: column.defaultExpression = nil
            case nil: break
            }
            if let index = result.columns.firstIndex(where: { $0.name == (target.existing ? target.physical : target.final) }) {
                result.columns[index] = column
            } else {
                result.columns.append(column)
            }
            if target.unique {
                result.indexes.append(IndexInfo(name: target.uniqueName, columns: [target.final], isUnique: true, isPrimary: false,
                                                isConstraint: true, isPlain: true))
                result.constraints.append(ConstraintInfo(kind: "u", name: target.uniqueName, columns: [target.final],
                                                         definition: "UNIQUE (\(SQLQuote.identifier(target.final)))"))
            }
            if let check = target.check {
                let definition = overFinal(check)
                let used = ExpressionRewriter.referencedColumns(in: definition, among: Set(result.columns.map(\.name) + [target.final]))
                result.constraints.append(ConstraintInfo(kind: "c", name: target.checkName, columns: used.sorted(), definition: "CHECK (\(definition))"))
            }
            if let foreignKey = target.foreignKeyAtContract ?? target.foreignKey.map(overFinal) {
                result.constraints.append(ConstraintInfo(kind: "f", name: target.foreignKeyName, columns: [target.final], definition: foreignKey))
            }
            for index in target.rebuiltIndexes {
                result.indexes.append(IndexInfo(name: sql.rebuiltIndexName(target, index).final, columns: [target.final], isUnique: false,
                                                isPrimary: false, isConstraint: false, isPlain: true))
            }
        }
        // A column renamed in place: its indexes and constraints follow it.
        let inPlace = Dictionary(renamedInPlace.map { ($0.old, $0.new) }, uniquingKeysWith: { a, _ in a })
        if !inPlace.isEmpty {
            func follow(_ columns: [String]) -> [String] { columns.map { inPlace[$0] ?? $0 } }
            result.primaryKey = follow(result.primaryKey)
            for i in result.indexes.indices { result.indexes[i].columns = follow(result.indexes[i].columns) }
            for i in result.constraints.indices {
                result.constraints[i].columns = follow(result.constraints[i].columns)
                result.constraints[i].definition = ExpressionRewriter.renameColumns(in: result.constraints[i].definition, inPlace)
            }
        }
        for recreated in recreatedIndexes {
            guard let original = table.indexes.first(where: { $0.name == recreated.original }) else { continue }
            result.indexes.append(IndexInfo(name: recreated.final, columns: final(original.columns), isUnique: original.isUnique, isPrimary: false,
                                            isConstraint: recreated.constraintSuffix != nil, isPlain: original.isPlain))
            if recreated.constraintSuffix != nil, let constraint = table.constraints.first(where: { $0.name == recreated.original }) {
                result.constraints.append(ConstraintInfo(kind: constraint.kind, name: recreated.final, columns: final(constraint.columns),
                                                         definition: overFinal(ExpressionRewriter.renameColumns(in: constraint.definition, finals))))
            }
        }
        for recreated in recreatedConstraints {
            guard let original = table.constraints.first(where: { $0.name == recreated.original }) else { continue }
            result.constraints.append(ConstraintInfo(kind: original.kind, name: recreated.final, columns: final(original.columns),
                                                     definition: overFinal(recreated.definition) + (recreated.notValid && !original.isNotEnforced ? " NOT VALID" : "")))
        }
        for constraint in constraints {
            switch constraint.kind {
            case .drop:
                result.constraints.removeAll { $0.name == constraint.final }
                result.indexes.removeAll { $0.isConstraint && $0.name == constraint.final }
            case .dropNotNull:
                if let i = result.columns.firstIndex(where: { $0.name == constraint.column }) { result.columns[i].notNull = false }
            case .unique:
                result.indexes.append(IndexInfo(name: constraint.final, columns: constraint.columns, isUnique: true, isPrimary: false,
                                                isConstraint: true, isPlain: true))
                result.constraints.append(ConstraintInfo(kind: "u", name: constraint.final, columns: constraint.columns,
                                                         definition: "UNIQUE (\(constraint.columns.map(SQLQuote.identifier).joined(separator: ", ")))"))
            case .foreignKey, .check:
                let renames = Dictionary(allTargets.filter(\.isShadow).map { ($0.physical, $0.final) }, uniquingKeysWith: { a, _ in a })
                result.constraints.append(ConstraintInfo(kind: constraint.kind == .check ? "c" : "f", name: constraint.final, columns: constraint.columns,
                                                         definition: constraint.definitionAtContract
                                                            ?? ExpressionRewriter.renameColumns(in: constraint.definition, renames)))
            }
        }
        result.details = nil
        if let rename = plan.renameTableTo { result = TableRename.applied(to: result, newName: rename.value) }
        return result
    }
}

extension Transition {
    /// The index the table uses as its `REPLICA IDENTITY`, when the plan drops it at contract
    /// without making another (`drop_constraint`, `unique: false`, `carry: {unique: false}`). Pure.
    public var dropsReplicaIdentity: String? {
        guard let index = table.details?.replicaIdentityIndex,
              !tableAfterContract.indexes.contains(where: { $0.name == index }),
              !recreatedIndexes.contains(where: \.replicaIdentity),
              !allTargets.contains(where: \.replicaIdentity) else { return nil }
        return index
    }
}

extension Transition {
    /// `tableAfterContract` with what the live catalog knows of everything the plan leaves
    /// alone, read from `live` (the table as it is now: for a plan in flight, with what was
    /// created on it since expand, hostile-f 04): the indexes and constraints over untouched
    /// columns (those made since expand too), their definitions, and the views, policies,
    /// publications… that depend on untouched columns. What the plan replaces or creates stays
    /// unknown (expand reads it), as offline. A later plan on the table is checked against
    /// this, so `check -d` says what its expand's gates will refuse. Pure.
    public func tableAfterContract(keepingFrom live: TableInfo?) -> TableInfo {
        var result = tableAfterContract
        guard let live, let liveDetails = live.details else { return result }
        var touched = Set(droppedColumns)
        for target in allTargets { touched.insert(target.final); touched.insert(target.physical) }
        for constraint in constraints { touched.formUnion(constraint.columns); if let column = constraint.column { touched.insert(column) } }
        func untouched(_ columns: [String]) -> Bool { touched.isDisjoint(with: columns) && !columns.contains { $0.hasPrefix(TransitionNames.reservedPrefix) } }
        let resultColumns = Set(result.columns.map(\.name))
        for index in live.indexes where untouched(liveDetails.indexColumns[index.name] ?? index.columns)
            && index.columns.allSatisfy(resultColumns.contains) && !table.indexes.contains(where: { $0.name == index.name })
            && !result.indexes.contains(where: { $0.name == index.name }) {
            result.indexes.append(index)
        }
        for constraint in live.constraints where untouched(constraint.columns)
            && constraint.columns.allSatisfy(resultColumns.contains) && !table.constraints.contains(where: { $0.name == constraint.name })
            && !result.constraints.contains(where: { $0.name == constraint.name }) {
            result.constraints.append(constraint)
        }
        let keptIndexes = Set(live.indexes.filter { index in
            untouched(liveDetails.indexColumns[index.name] ?? index.columns) && result.indexes.contains { $0.name == index.name }
        }.map(\.name))
        let keptConstraints = Set(live.constraints.filter { constraint in
            untouched(constraint.columns) && result.constraints.contains { $0.name == constraint.name }
        }.map(\.name))
        var details = TableDetails(kind: liveDetails.kind,
                                   replicaIdentityIndex: liveDetails.replicaIdentityIndex.flatMap { keptIndexes.contains($0) ? $0 : nil },
                                   indexDefinitions: liveDetails.indexDefinitions.filter { keptIndexes.contains($0.key) },
                                   indexColumns: liveDetails.indexColumns.filter { keptIndexes.contains($0.key) },
                                   columns: liveDetails.columns.filter { resultColumns.contains($0.key) && untouched([$0.key]) },
                                   dependents: liveDetails.dependents.filter { resultColumns.contains($0.column) && untouched([$0.column]) })
        details.indexTablespaces = liveDetails.indexTablespaces?.filter { keptIndexes.contains($0.key) }
        details.clusteredIndex = liveDetails.clusteredIndex.flatMap { keptIndexes.contains($0) ? $0 : nil }
        details.rowTypeUses = liveDetails.rowTypeUses
        details.indexReferences = liveDetails.indexReferences?.filter { keptIndexes.contains($0.key) }
        details.indexComments = liveDetails.indexComments?.filter { keptIndexes.contains($0.key) }
        details.constraintComments = liveDetails.constraintComments?.filter { keptConstraints.contains($0.key) }
        result.details = details
        return result
    }
}
