import BellowsSQL

/// A table-level constraint change of a plan, resolved against the table: what expand adds
/// (NOT VALID, or a unique index built concurrently), what verify validates, and what contract
/// does (attach, rename, or drop).
public struct PlannedConstraint: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case unique, foreignKey = "foreign key", check
        /// An existing constraint dropped at contract (`ALTER TABLE … DROP CONSTRAINT`).
        case drop
        /// An existing NOT NULL, named `<table>_<column>_not_null`, dropped at contract.
        case dropNotNull = "drop NOT NULL"
    }

    public var kind: Kind
    /// The index of the change among the plan's `constraintChanges`.
    public var changeIndex: Int
    public var location: SourceLocation
    /// The constraint's name after contract (for a drop, the dropped constraint's).
    public var final: String
    /// Its name from expand to contract (`_bellows_…`); the final one for a drop.
    public var transitional: String
    /// For `unique`: the columns (physical names during the transition, quoted, comma-separated).
    /// For `foreignKey` and `check`: the definition over physical names, as added at expand.
    /// For a drop: the dropped constraint's definition as the catalog prints it (what a new plan
    /// would restate to bring it back after contract).
    public var definition: String
    /// A foreign key whose declared ON DELETE action deletes or rewrites rows: the declared
    /// definition over final names, which replaces `definition` at contract.
    public var definitionAtContract: String? = nil
    /// `dropNotNull`: the column.
    public var column: String? = nil
    /// The columns the constraint is over (final names), or the dropped constraint's.
    public var columns: [String]

    /// Whether expand adds it NOT VALID (a foreign key or CHECK) and verify validates it.
    public var addedNotValid: Bool { kind == .foreignKey || kind == .check }
}

enum TableConstraints {
    /// Resolves the plan's constraint changes against `table` with the column changes' targets
    /// (`groups`): names, definitions over the physical columns, and the located errors.
    static func resolve(_ plan: Plan, table: TableInfo, groups: [SyncGroup]) -> (constraints: [PlannedConstraint], findings: [Finding]) {
        var findings: [Finding] = []
        func error(_ location: SourceLocation, _ rule: String, _ message: String) {
            findings.append(Finding(at: location, severity: .error, rule: rule, message: message))
        }
        let targets = groups.flatMap(\.targets)
        let dropped = Set(groups.flatMap(\.dropsAtContract))
        let finals = Set(targets.map(\.final))
        // Columns after contract, by final name, and where each lives during the transition.
        var physical: [String: String] = [:]
        for column in table.columns where !dropped.contains(column.name) || finals.contains(column.name) { physical[column.name] = column.name }
        for t in targets { physical[t.final] = t.physical }
        let available = table.columns.map(\.name).filter { physical[$0] != nil } + targets.map(\.final).filter { table.column($0) == nil }
        let renames = physical.filter { $0.key != $0.value }
        /// Columns changed by the plan's column changes (replaced, dropped or altered in place).
        let changedColumns = Set(groups.flatMap(\.sources))

        func resolveColumns(_ columns: [Located<String>]) -> [String]? {
            var result: [String] = []
            var ok = true
            for column in columns {
                guard physical[column.value] != nil else {
                    var message = "column \"\(column.value)\" is not a column of \(table.schema).\(table.name) after contract"
                    if dropped.contains(column.value) { message += " (the plan replaces or drops it)" }
                    if let s = Suggestion.closest(to: column.value, in: available) { message += "; did you mean \"\(s)\"?" }
                    error(column.location, "plan-unknown-column", message)
                    ok = false
                    continue
                }
                if result.contains(column.value) {
                    error(column.location, "plan-invalid-value", "column \"\(column.value)\" is listed twice")
                    ok = false
                }
                result.append(column.value)
            }
            return ok ? result : nil
        }
        func list(_ columns: [String], _ map: [String: String]) -> String {
            columns.map { SQLQuote.identifier(map[$0] ?? $0) }.joined(separator: ", ")
        }

        // Names: those the table has, those the plan drops at contract (free for a new
        // constraint of the plan then), and those this plan gives.
        let existing = Set(table.constraints.map(\.name) + table.indexes.map(\.name))
        let droppedNames = Set(plan.constraintChanges.compactMap { change -> String? in
            if case .drop(let name) = change { return name.value }
            return nil
        })
        let freedByColumns = Set(table.indexes.filter { !dropped.isDisjoint(with: table.columns(of: $0)) }.map(\.name)
            + table.constraints.filter { !dropped.isDisjoint(with: $0.columns) }.map(\.name))
        var given: Set<String> = []
        func name(_ change: ConstraintChange, base: String) -> String? {
            if let explicit = change.givenName {
                let value = explicit.value
                if value.utf8.count > TransitionNames.maximumIdentifierBytes {
                    error(explicit.location, "plan-identifier-too-long", "\"\(value)\" is \(value.utf8.count) bytes; PostgreSQL truncates identifiers to 63 bytes")
                    return nil
                }
                if value.hasPrefix(TransitionNames.reservedPrefix) {
                    error(explicit.location, "plan-reserved-name", "names starting with \(TransitionNames.reservedPrefix) are reserved for Bellows' transition objects")
                    return nil
                }
                if existing.contains(value) && !droppedNames.contains(value) && !freedByColumns.contains(value) {
                    error(explicit.location, "plan-name-collision",
                          "\"\(value)\" is already a constraint or index of \(table.schema).\(table.name); choose another name or drop it in the same plan (drop_constraint)")
                    return nil
                }
                if !given.insert(value).inserted {
                    error(explicit.location, "plan-name-collision", "\"\(value)\" is given to two constraints of this plan")
                    return nil
                }
                return value
            }
            let generated = table.freeName(TransitionNames.fitted(base), avoiding: given.union(droppedNames.subtracting(existing)))
            given.insert(generated)
            return generated
        }
        func referenceAction(_ reference: TableForeignKeyReference, _ columns: [String], over map: [String: String]) -> String {
            "FOREIGN KEY (\(list(columns, map))) REFERENCES \(reference.tableName.quoted) (\(reference.columns.map { SQLQuote.identifier($0.value) }.joined(separator: ", ")))"
        }

        var result: [PlannedConstraint] = []
        let tableName = table.name
        for (index, change) in plan.constraintChanges.enumerated() {
            switch change {
            case .unique(let columns, _, let location):
                guard let resolved = resolveColumns(columns),
                      let final = name(change, base: "\(tableName)_\(resolved.joined(separator: "_"))_key") else { continue }
                result.append(PlannedConstraint(kind: .unique, changeIndex: index, location: location, final: final,
                                                transitional: TransitionNames.transitional(final), definition: list(resolved, physical),
                                                columns: resolved))
            case .foreignKey(let columns, let reference, _, let location):
                guard let resolved = resolveColumns(columns),
                      let final = name(change, base: "\(tableName)_\(resolved.joined(separator: "_"))_fkey") else { continue }
                var constraint = PlannedConstraint(kind: .foreignKey, changeIndex: index, location: location, final: final,
                                                   transitional: TransitionNames.transitional(final),
                                                   definition: referenceAction(reference, resolved, over: physical), columns: resolved)
                // As for a column's `references:`: an action that deletes or rewrites rows waits
                // for contract, so old code's deletes are refused meanwhile, never cascaded.
                if let action = reference.onDelete {
                    if action.changesRows {
                        constraint.definitionAtContract = referenceAction(reference, resolved, over: [:]) + " ON DELETE \(action.sql)"
                    } else {
                        constraint.definition += " ON DELETE \(action.sql)"
                    }
                }
                result.append(constraint)
            case .check(let expression, _, let location):
                let used = ExpressionRewriter.referencedColumns(in: expression.text, among: Set(physical.keys))
                let ordered = available.filter(used.contains)
                let base = ordered.isEmpty ? "\(tableName)_check" : "\(tableName)_\(ordered.joined(separator: "_"))_check"
                guard let final = name(change, base: base) else { continue }
                result.append(PlannedConstraint(kind: .check, changeIndex: index, location: location, final: final,
                                                transitional: TransitionNames.transitional(final),
                                                definition: "CHECK (\(ExpressionRewriter.renameColumns(in: expression.text, renames)))",
                                                columns: ordered))
            case .drop(let dropName):
                let value = dropName.value
                if result.contains(where: { ($0.kind == .drop || $0.kind == .dropNotNull) && $0.final == value }) {
                    error(dropName.location, "plan-duplicate-name", "constraint \"\(value)\" is dropped twice")
                    continue
                }
                if let constraint = table.constraints.first(where: { $0.name == value }) {
                    if constraint.kind == "p" {
                        error(dropName.location, "plan-changes-key", "\"\(value)\" is the primary key of \(table.schema).\(tableName), which backfill batches walk; change it with a migration")
                        continue
                    }
                    if let column = constraint.columns.first(where: changedColumns.contains) {
                        error(dropName.location, "plan-column-conflict",
                              "\"\(value)\" is over \"\(column)\", which a column change of this plan replaces, drops or alters; say what happens to it there (carry:, unique:, not_null:) instead")
                        continue
                    }
                    if constraint.kind == "u", let key = table.batchKey, table.primaryKey.isEmpty, key == constraint.columns {
                        error(dropName.location, "plan-changes-key", "\"\(value)\" is the unique key backfill batches walk on \(table.schema).\(tableName); change it with a migration")
                        continue
                    }
                    if constraint.kind == "u" || constraint.kind == "x",
                       let incoming = table.details?.dependents.first(where: { $0.kind == .incomingForeignKey && constraint.columns.contains($0.column) }) {
                        error(dropName.location, "plan-dependent-object",
                              "\(incoming.description) references \(table.schema).\(tableName) through \"\(value)\": drop that foreign key first (it depends on the constraint's index)")
                        continue
                    }
                    result.append(PlannedConstraint(kind: .drop, changeIndex: index, location: dropName.location, final: value,
                                                    transitional: value, definition: constraint.definition, columns: constraint.columns))
                    continue
                }
                // PostgreSQL 18: a NOT NULL constraint by its own name (`b_required`, from the live
                // catalog; hostile-d 29), or by `<table>_<column>_not_null` on every version.
                func notNullName(_ column: ColumnInfo) -> String? { table.details?.columns[column.name]?.notNullConstraint }
                if let column = table.columns.first(where: {
                    $0.notNull && (TransitionNames.notNullConstraint(table: tableName, column: $0.name) == value || notNullName($0) == value)
                }) {
                    if table.primaryKey.contains(column.name) {
                        error(dropName.location, "plan-changes-key", "\"\(column.name)\" is part of the primary key, which is NOT NULL by definition")
                        continue
                    }
                    if changedColumns.contains(column.name) {
                        error(dropName.location, "plan-column-conflict",
                              "\"\(column.name)\" is changed by a column change of this plan; say 'not_null: false' there instead")
                        continue
                    }
                    result.append(PlannedConstraint(kind: .dropNotNull, changeIndex: index, location: dropName.location, final: value,
                                                    transitional: value, definition: "NOT NULL \(SQLQuote.identifier(column.name))",
                                                    column: column.name, columns: [column.name]))
                    continue
                }
                // A NOT VALID NOT NULL constraint (PostgreSQL 18; the column reads as nullable) is
                // dropped as a constraint.
                if let column = table.columns.first(where: { table.details?.columns[$0.name]?.notValidNotNullConstraint == value }) {
                    if changedColumns.contains(column.name) {
                        error(dropName.location, "plan-column-conflict",
                              "\"\(value)\" is over \"\(column.name)\", which a column change of this plan replaces, drops or alters; say 'not_null: false' there instead")
                        continue
                    }
                    result.append(PlannedConstraint(kind: .drop, changeIndex: index, location: dropName.location, final: value,
                                                    transitional: value, definition: "NOT NULL \(SQLQuote.identifier(column.name)) NOT VALID",
                                                    columns: [column.name]))
                    continue
                }
                let names = table.constraints.filter { $0.kind != "p" }.map(\.name)
                    + table.columns.filter(\.notNull).filter { !table.primaryKey.contains($0.name) }.map {
                        notNullName($0) ?? TransitionNames.notNullConstraint(table: tableName, column: $0.name)
                    }
                    + table.columns.compactMap { table.details?.columns[$0.name]?.notValidNotNullConstraint }
                var message = "\(table.schema).\(tableName) has no constraint \"\(value)\""
                if let s = Suggestion.closest(to: value, in: names) { message += "; did you mean \"\(s)\"?" }
                else if !names.isEmpty { message += " (it has: \(names.sorted().joined(separator: ", ")))" }
                error(dropName.location, "plan-unknown-constraint", message)
            }
        }
        return (result, findings)
    }
}

extension PlannedConstraint {
    /// What happens to the constraint and when: listed by `bellows render` and `expand`.
    public var line: String {
        switch kind {
        case .unique:
            return "UNIQUE (\(columns.joined(separator: ", "))) as \(final): its index is built concurrently at expand and refuses duplicates from every writer (old code included) from then on; attached as the constraint at contract"
        case .foreignKey:
            return "foreign key \(final) (\(columns.joined(separator: ", "))): added NOT VALID at expand (every new write checked from then on, old code included), validated at verify, renamed at contract"
                + (definitionAtContract != nil ? "; its ON DELETE action takes effect at contract" : "")
        case .check:
            return "CHECK \(final): added NOT VALID at expand (every new write checked from then on, old code included), validated at verify, renamed at contract"
        case .drop:
            return "constraint \(final) dropped at contract (it holds until then, so rollback has nothing to restore); its definition: \(definition)"
        case .dropNotNull:
            return "NOT NULL of \(column ?? "") dropped at contract (it holds until then, so rollback has nothing to restore)"
        }
    }
}
